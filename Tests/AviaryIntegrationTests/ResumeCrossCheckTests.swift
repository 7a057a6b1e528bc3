import Foundation
import Testing
import AviaryLog
import AviaryMath

/// Resume against a run directory someone changed: a state relabelled to a later round is
/// refused, and a damaged last checkpoint is rewritten from the state (real processes).
@Suite(.serialized) struct ResumeCrossCheckTests {
    /// A 5-round run killed right after round `round`'s state was saved. `durable_interval = 0`:
    /// every round is a durability point, so there is a state after every round to tamper with
    /// (otherwise this run saves it after round 1 and replays from there).
    func crashedRun(_ name: String, afterRound round: Int) throws -> String {
        let dir = Harness.temporaryDirectory(name)
        try Harness.topology(name: "r", output: dir, clients: 4, rounds: 5, processes: 2,
                             server: ReliabilityTests.resumeTopologyExtra + "\ndurable_interval = 0\n")
            .write(toFile: dir + "/t.toml", atomically: true, encoding: .utf8)
        let crashed = try Harness.run("aviary", ["run", dir + "/t.toml"], timeout: 120, environment: ["AVIARY_CRASH_AT": "round-saved:\(round)"])
        #expect(crashed.status != 0 && crashed.output.contains("signal 9"), "\(crashed.output)")
        return dir + "/r"
    }

    /// A state.json relabelled to an earlier round: its vector files record (under the CRC-32
    /// state.json holds) that round 2 wrote them, so the state is refused, not resumed from.
    @Test func aStateRelabelledToAnEarlierRoundIsRefused() throws {
        let run = try crashedRun("relabel", afterRound: 2)
        let statePath = run + "/state.json"
        var state = try String(contentsOfFile: statePath, encoding: .utf8)
        state = state.replacingOccurrences(of: "\"round\" : 2,", with: "\"round\" : 1,")
        try state.write(toFile: statePath, atomically: true, encoding: .utf8)
        let logBefore = try Data(contentsOf: URL(fileURLWithPath: run + "/aggregation.jsonl"))

        // The server alone: it must refuse before it listens (no clients needed to see that).
        let resumed = try Harness.run("aviary-server", ["--resume", run], timeout: 120)
        #expect(resumed.status != 0, "a relabelled state was resumed:\n\(resumed.output)")
        #expect(resumed.output.contains("r0002-global.safetensors") && resumed.output.contains("metadata.round"), "\(resumed.output)")
        // Nothing was skipped or written: the log is as the crash left it.
        #expect(try Data(contentsOf: URL(fileURLWithPath: run + "/aggregation.jsonl")) == logBefore)
    }

    /// A state.json relabelled to a later round is consistent in itself (its files may have been
    /// written at any round up to it); only the log (whose last completed round is 2) can tell.
    @Test func aStateRelabelledToALaterRoundIsRefusedByTheLog() throws {
        let run = try crashedRun("relabel-all", afterRound: 2)
        let statePath = run + "/state.json"
        var state = try String(contentsOfFile: statePath, encoding: .utf8)
        state = state.replacingOccurrences(of: "\"round\" : 2,", with: "\"round\" : 4,")
        try state.write(toFile: statePath, atomically: true, encoding: .utf8)

        let resumed = try Harness.run("aviary-server", ["--resume", run], timeout: 120)
        #expect(resumed.status != 0, "a relabelled state was resumed:\n\(resumed.output)")
        #expect(resumed.output.contains("the run state says round 4 is the last completed one")
                && resumed.output.contains("is 2"), "\(resumed.output)")
    }

    @Test(arguments: ["truncated", "missing"])
    func aDamagedLastCheckpointIsRewrittenFromTheState(_ damage: String) throws {
        let run = try crashedRun("checkpoint-\(damage)", afterRound: 3)
        let checkpoint = run + "/checkpoints/round-0003.safetensors"
        let original = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
        if damage == "missing" {
            try FileManager.default.removeItem(atPath: checkpoint)
        } else {
            try original.prefix(original.count / 2).write(to: URL(fileURLWithPath: checkpoint))
        }

        let resumed = try Harness.run("aviary", ["run", "--resume", run], timeout: 120)
        #expect(resumed.status == 0, "\(resumed.output)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: checkpoint)) == original, "the rewritten checkpoint differs from the one written in round 3")
        let log = try AggregationLog.read(path: run + "/aggregation.jsonl")
        let round3 = try #require(log.rounds.first { $0.round == 3 })
        #expect(round3.checkpointCrc32 == CRC32.hex(CRC32.checksum([UInt8](original))))
        let note = log.records.compactMap { if case let .resumed(r) = $0 { r.reason } else { nil } }.joined()
        #expect(note.contains("round-0003.safetensors") && note.contains("rewrote it from the run state"), "\(note)")
        #expect(!note.contains("not the logged file"), "\(note)")
        #expect(log.rounds.map(\.round) == [1, 2, 3, 4, 5])
    }
}
