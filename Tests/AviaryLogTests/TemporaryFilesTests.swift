import Foundation
import Testing
@testable import AviaryLog

@Suite struct TemporaryFilesTests {
    @Test func namesMatchWhatAtomicWritesLeave() {
        #expect(TemporaryFiles.isLeftover("round-0003.safetensors.tmp-4711"))
        #expect(TemporaryFiles.isLeftover("state.json.tmp-1"))
        #expect(TemporaryFiles.isLeftover("endpoint.tmp"))
        #expect(!TemporaryFiles.isLeftover("round-0003.safetensors"))
        #expect(!TemporaryFiles.isLeftover("notes.tmp-x1"))
        #expect(!TemporaryFiles.isLeftover(".tmp-12"))
        #expect(!TemporaryFiles.isLeftover(".tmp"))
        #expect(!TemporaryFiles.isLeftover("aggregation.jsonl"))
    }

    @Test func removesLeftoversInRunCheckpointsAndStateOnly() throws {
        let dir = try SafetensorsTestDirectory()
        let run = RunDirectory(path: dir.path)
        let fm = FileManager.default
        for d in [run.checkpoints, run.stateDirectory, run.logs] { try fm.createDirectory(atPath: d, withIntermediateDirectories: true) }
        let leftovers = [run.checkpoints + "/round-0002.safetensors.tmp-99999", run.path + "/state.json.tmp-123",
                         run.stateDirectory + "/round-0002.safetensors.tmp-5"]
        let kept = [run.checkpoints + "/round-0001.safetensors", run.log, run.logs + "/server.log.tmp-7",
                    run.path + "/state.json.tmp-\(ProcessInfo.processInfo.processIdentifier)"]
        for f in leftovers + kept { #expect(fm.createFile(atPath: f, contents: Data([1]))) }
        try AtomicFile.write(Data("x".utf8), to: run.endpoint)  // a real atomic write leaves nothing behind
        let removed = try TemporaryFiles.removeLeftovers(in: run)
        #expect(removed == leftovers.sorted { $0 < $1 }.sorted { a, b in
            // run dir first, then checkpoints/, then state/ (the order directories are scanned)
            func rank(_ p: String) -> Int { p.contains("/checkpoints/") ? 1 : p.contains("/state/") ? 2 : 0 }
            return rank(a) < rank(b)
        })
        for f in leftovers { #expect(!fm.fileExists(atPath: f)) }
        for f in kept + [run.endpoint] { #expect(fm.fileExists(atPath: f)) }
        #expect(try TemporaryFiles.removeLeftovers(in: run).isEmpty)
    }

    @Test func missingDirectoriesAreSkipped() throws {
        let dir = try SafetensorsTestDirectory()
        #expect(try TemporaryFiles.removeLeftovers(in: RunDirectory(path: dir.path + "/nope")).isEmpty)
    }
}
