import Foundation
import Testing
@testable import AviaryClient
import AviaryLog
import AviaryProtocol

/// The on-disk residual store: the same behaviour as its in-memory twin, files where the docs
/// say, nothing held in memory, and damaged or misplaced files refused with their path.
struct DirectoryResidualStoreTests {
    func temporaryDirectory() -> String {
        let dir = NSTemporaryDirectory() + "aviary-residuals-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func behavesLikeTheMemoryTwin() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let memory = MemoryResidualStore()
        let disk = try DirectoryResidualStore(stateDirectory: dir, runID: "run-a")
        var sent: [[[Float]]] = []
        for store in [memory, disk] as [ResidualStore] {
            let c = DeltaCompressor(format: DeltaCompressorTests.format, history: ResidualHistory(), store: store)
            var out: [[Float]] = []
            for r in 1...5 {
                c.modelArrived(round: r)
                for client in [0, 3] { out.append(DeltaCompressorTests.sent(try c.encode(DeltaCompressorTests.update(client: client, round: r)))) }
            }
            sent.append(out)
        }
        #expect(sent[0] == sent[1])
        #expect(try Set(disk.clients()) == [0, 3] && Set(memory.clients()) == [0, 3])
        for client in [0, 3] {
            #expect(try disk.versions(client: client).sorted() == memory.versions(client: client).sorted())
            for v in memory.versions(client: client) {
                #expect(try disk.load(client: client, version: v, count: 8) == memory.load(client: client, version: v, count: 8))
            }
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/run-a/client-000003").sorted()
        #expect(files == ["r0003-g0.safetensors", "r0004-g0.safetensors", "r0005-g0.safetensors"])
    }

    @Test func aNewStoreOnTheSameDirectoryContinues() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let v = ResidualHistory.Version(round: 2, generation: 0)
        try DirectoryResidualStore(stateDirectory: dir, runID: "run-a").save(client: 7, version: v, residual: [1, 2, 3])
        let reopened = try DirectoryResidualStore(stateDirectory: dir, runID: "run-a")
        #expect(try reopened.versions(client: 7) == [v])
        #expect(try reopened.load(client: 7, version: v, count: 3) == [1, 2, 3])
        // Another run's residuals are in another directory.
        #expect(try DirectoryResidualStore(stateDirectory: dir, runID: "run-b").versions(client: 7).isEmpty)
    }

    @Test func damagedOrMisplacedFilesAreRefusedWithTheirPath() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try DirectoryResidualStore(stateDirectory: dir, runID: "run-a")
        let v = ResidualHistory.Version(round: 2, generation: 0)
        try store.save(client: 1, version: v, residual: [1, 2, 3])
        let path = store.path(client: 1, version: v)

        // Wrong length for this model.
        #expect(throws: ResidualStoreError.mismatch(path: path, field: "length", expected: "4 (the model's parameters)", found: "3")) {
            try store.load(client: 1, version: v, count: 4)
        }
        // Copied from another client's directory.
        let other = store.path(client: 2, version: v)
        try FileManager.default.createDirectory(atPath: store.directory(client: 2), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: path, toPath: other)
        #expect(throws: ResidualStoreError.mismatch(path: other, field: "metadata.client", expected: "2", found: "1")) {
            try store.load(client: 2, version: v, count: 3)
        }
        // Truncated.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count - 4).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: ResidualStoreError.self) { try store.load(client: 1, version: v, count: 3) }
        if case let .unreadable(p, _)? = error { #expect(p == path) } else { Issue.record("\(String(describing: error))") }
        #expect("\(String(describing: error))".contains(path))
    }

    @Test func aKilledWritersTempFileIsIgnoredAndRemoved() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try DirectoryResidualStore(stateDirectory: dir, runID: "run-a")
        let v = ResidualHistory.Version(round: 1, generation: 0)
        try store.save(client: 0, version: v, residual: [1])
        let temp = store.path(client: 0, version: .init(round: 2, generation: 0)) + ".tmp-999999"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: temp))
        #expect(try store.versions(client: 0) == [v])
        #expect(!FileManager.default.fileExists(atPath: temp))
    }

    @Test func fileNamesParseBackToVersions() {
        #expect(DirectoryResidualStore.version(fileName: "r0012-g3.safetensors") == .init(round: 12, generation: 3))
        #expect(DirectoryResidualStore.version(fileName: "r12345-g0.safetensors") == .init(round: 12345, generation: 0))
        for bad in ["r0012.safetensors", "r-1-g0.safetensors", "rX-g0.safetensors", "r0001-g0.safetensors.tmp-12", "notes.txt"] {
            #expect(DirectoryResidualStore.version(fileName: bad) == nil, "\(bad)")
        }
    }
}
