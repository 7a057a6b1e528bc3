import Foundation
import Testing
import AviaryLog

/// The BLAS a run computed with is in its log, and `[processes] blas_coretype` pins OpenBLAS's
/// kernel set in every process `aviary run` starts (real processes, real OpenBLAS).
@Suite(.serialized) struct BLASKernelTests {
    func run(_ name: String, _ extra: [String]) throws -> AggregationLog {
        let dir = Harness.temporaryDirectory("blas-\(name)")
        let topo = dir + "/t.toml"
        try Harness.topology(name: name, output: dir, clients: 2, rounds: 1, processes: 1, epochs: 1)
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let out = try Harness.run("aviary", ["run", topo] + extra, environment: ["OPENBLAS_CORETYPE": ""])
        #expect(out.status == 0, "\(out.output)")
        return try AggregationLog.read(path: dir + "/\(name)/aggregation.jsonl")
    }

    @Test func runStartRecordsTheKernelAndAPinIsTaken() throws {
        let chosen = try #require(try run("own", []).runStart?.blas)
        #expect(chosen.library == "OpenBLAS" && !chosen.version.isEmpty && !chosen.core.isEmpty, "\(chosen)")
        let pinned = try #require(try run("pinned", ["--set", "processes.blas_coretype=Sandybridge"]).runStart)
        #expect(pinned.blas?.core == "Sandybridge" && pinned.blas?.pinned == "Sandybridge", "\(String(describing: pinned.blas))")
        #expect(!pinned.notes.contains { $0.contains("OPENBLAS_CORETYPE") }, "\(pinned.notes)")
        let unknown = try #require(try run("unknown", ["--set", "processes.blas_coretype=NoSuchCore"]).runStart)
        #expect(unknown.notes.contains { $0.contains("OPENBLAS_CORETYPE=NoSuchCore was not taken") }, "\(unknown.notes)")
    }
}
