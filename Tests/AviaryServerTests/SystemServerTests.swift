import Foundation
import Testing
import AviaryLog
import AviaryProtocol
import AviaryServer
import AviaryTopology
import AviaryTransport

/// A whole server on the simulated clock, through the in-memory transport: stragglers are not
/// asked to train (drop) or merged late (stale), offline clients are not sampled, the clock is
/// logged, and a resumed run reproduces the uninterrupted one.
@Suite struct SystemServerTests {
    /// Four clients from a trace: 0 and 1 finish in about 30 s (latency 15 s each way), 2 is
    /// never online, 3 takes about 150 s; the deadline is 100 s.
    static func topology(dir: String, policy: String, rounds: Int = 6, close: String = "deadline = 100") throws -> Topology {
        let trace = dir + "/trace.csv"
        try """
        client,speed,up_bps,down_bps,latency_s,availability
        0,1000000,1000000,1000000,15,1
        1,1000000,1000000,1000000,15,1
        2,1000000,1000000,1000000,15,0
        3,1000000,1000000,1000000,75,1
        """.write(toFile: trace, atomically: true, encoding: .utf8)
        return try InMemoryServerTests.topology(dir: dir, rounds: rounds, optimizer: """
        [system]
        trace = "\(trace)"
        \(close)
        straggler_policy = "\(policy)"
        """)
    }

    static func run(_ topology: Topology, resume: Bool = false, stopAfterRound: Int? = nil) throws -> (FederatedServer.Summary, InMemoryServerTests.Run) {
        let run = try InMemoryServerTests.makeRun(topology, resume: resume, stopAfterRound: stopAfterRound)
        run.transport.deliver(InMemoryServerTests.hello([0, 1, 2, 3]), from: PeerID(bytes: Array((resume ? "b" : "a").utf8)))
        return (try run.server.run(), run)
    }

    @Test func dropNeverAsksAStragglerToTrainAndLogsTheClock() throws {
        let dir = InMemoryServerTests.temporaryDirectory()
        let (summary, run) = try Self.run(try Self.topology(dir: dir, policy: "drop"))
        #expect(summary.success, "\(summary.reason)")
        let trained = run.transport.sent.flatMap { s -> [Int] in if case let .train(t) = s.message { t.clients } else { [] } }
        #expect(!trained.contains(3) && !trained.contains(2) && trained.count == 6 * 2)
        let log = try AggregationLog.read(path: dir + "/mem/aggregation.jsonl")
        #expect(log.rounds.count == 6)
        var clock = 0.0
        for r in log.rounds {
            let s = try #require(r.system)
            #expect(r.sampled == [0, 1, 3] && r.accepted == [0, 1])
            #expect(s.stragglers == [3] && s.offline == [2] && s.offlineCount == 1)
            #expect(s.roundSeconds == 100)  // someone is late: the server waits until the deadline
            clock += s.roundSeconds
            #expect(s.clockSeconds == clock)
        }
        #expect(log.runStart?.seeds.system == 4)
        let note = log.runStart?.notes.first { $0.hasPrefix("simulated clock:") } ?? "none"
        #expect(note.hasPrefix("simulated clock: deadline 100.0 s, stragglers drop; profiles from ") && note.contains("mean availability 0.750"), "\(note)")
    }

    @Test func kFastestClosesAtTheFirstArrivalAndAsksOnlyThatClient() throws {
        let dir = InMemoryServerTests.temporaryDirectory()
        let (summary, run) = try Self.run(try Self.topology(dir: dir, policy: "drop", rounds: 3, close: "k_fastest = 1"))
        #expect(summary.success, "\(summary.reason)")
        let trained = run.transport.sent.compactMap { s -> [Int]? in if case let .train(t) = s.message { t.clients } else { nil } }
        #expect(trained.count == 3 && trained.allSatisfy { $0.count == 1 && $0[0] != 3 })
        let log = try AggregationLog.read(path: dir + "/mem/aggregation.jsonl")
        for r in log.rounds {
            let s = try #require(r.system)
            #expect(r.accepted.count == 1 && s.stragglers.count == 2 && s.stragglers.contains(3))
            #expect(s.roundSeconds > 30 && s.roundSeconds < 31)  // the first arrival: 2 × 15 s latency plus transfers
        }
    }

    @Test func aRunWhoseClientsAllStraggleFailsAndSaysWhy() throws {
        let dir = InMemoryServerTests.temporaryDirectory()
        let (summary, run) = try Self.run(try Self.topology(dir: dir, policy: "drop", rounds: 2, close: "deadline = 1"))
        #expect(!summary.success)
        #expect(summary.reason.contains("3 of 3 sampled clients straggled on the simulated clock"), "\(summary.reason)")
        #expect(!run.transport.sent.contains { if case .train = $0.message { true } else { false } })
    }

    @Test func staleMergesALateUpdateScaledInTheRoundItArrivesIn() throws {
        let dir = InMemoryServerTests.temporaryDirectory()
        let (summary, _) = try Self.run(try Self.topology(dir: dir, policy: "stale"))
        #expect(summary.success, "\(summary.reason)")
        let log = try AggregationLog.read(path: dir + "/mem/aggregation.jsonl")
        let systems = log.rounds.compactMap(\.system)
        #expect(systems.count == 6)
        // Round 1: 3 straggles (arrives at ~150 s). Rounds 2 and 3 run without it (busy) and
        // close at ~130 s and ~160 s, so its update joins round 3, two rounds late.
        #expect(systems[0].stragglers == [3] && log.rounds[0].accepted == [0, 1])
        #expect(log.rounds[1].sampled == [0, 1] && systems[1].busy == [3])
        #expect(systems[2].staleMerged?.map(\.client) == [3] && systems[2].staleMerged?.first?.fromRound == 1)
        #expect(log.rounds[2].accepted == [0, 1, 3])
        #expect(abs((systems[2].staleMerged?.first?.scale ?? 0) - 1 / Double(3).squareRoot()) < 1e-12)
        #expect(log.rounds[3].sampled == [0, 1, 3])
    }

    @Test func aResumedRunOnTheSimulatedClockIsByteIdentical() throws {
        for policy in ["drop", "stale"] {
            let dirA = InMemoryServerTests.temporaryDirectory(), dirB = InMemoryServerTests.temporaryDirectory()
            #expect(try Self.run(try Self.topology(dir: dirA, policy: policy)).0.success)
            // Interrupted after round 2, while round 1's late update is still held (stale).
            #expect(try Self.run(try Self.topology(dir: dirB, policy: policy), stopAfterRound: 2).0.success == false)
            #expect(try Self.run(try Self.topology(dir: dirB, policy: policy), resume: true).0.success)

            let a = try Data(contentsOf: URL(fileURLWithPath: dirA + "/mem/checkpoints/round-0006.safetensors"))
            let b = try Data(contentsOf: URL(fileURLWithPath: dirB + "/mem/checkpoints/round-0006.safetensors"))
            #expect(a == b, "policy \(policy)")
            let logA = try AggregationLog.read(path: dirA + "/mem/aggregation.jsonl")
            let logB = try AggregationLog.read(path: dirB + "/mem/aggregation.jsonl")
            #expect(logA.rounds.map(\.system) == logB.rounds.map(\.system), "policy \(policy)")
            #expect(logA.rounds.map(\.weights) == logB.rounds.map(\.weights))
        }
    }
}
