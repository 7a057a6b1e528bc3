import Foundation
import Testing
import AviaryLog
import AviaryMerge
import AviaryProtocol
@testable import AviaryServer
import AviaryTopology
import AviaryTransport

/// A whole buffered run through the in-memory transport: each round trains the clients the plan
/// started on the previous version and applies the plan's server update with discounted deltas;
/// the log says so; the result does not depend on how clients are spread over processes, and a
/// resumed run is byte-identical.
@Suite struct BufferedServerTests {
    /// Four always-online clients from a trace whose latencies (5, 10, 20, 40 s each way) set
    /// their arrival times; 3 train at once, the server updates after every 2 arrivals.
    static func topology(dir: String, rounds: Int = 6, server: String = "") throws -> Topology {
        let trace = dir + "/trace.csv"
        try """
        client,speed,up_bps,down_bps,latency_s,availability
        0,1000000,1000000,1000000,5,1
        1,1000000,1000000,1000000,10,1
        2,1000000,1000000,1000000,20,1
        3,1000000,1000000,1000000,40,1
        """.write(toFile: trace, atomically: true, encoding: .utf8)
        return try InMemoryServerTests.topology(dir: dir, rounds: rounds, optimizer: """
        mode = "buffered"
        concurrency = 3
        buffer_size = 2
        staleness = "polynomial"
        staleness_a = 0.5
        \(server)
        [system]
        trace = "\(trace)"
        """)
    }

    static func run(_ topology: Topology, processes: [[Int]] = [[0, 1, 2, 3]], resume: Bool = false,
                    stopAfterRound: Int? = nil) throws -> (FederatedServer.Summary, InMemoryServerTests.Run) {
        let run = try InMemoryServerTests.makeRun(topology, resume: resume, stopAfterRound: stopAfterRound)
        for (i, clients) in processes.enumerated() {
            run.transport.deliver(InMemoryServerTests.hello(clients), from: PeerID(bytes: Array("\(resume ? "b" : "a")\(i)".utf8)))
        }
        return (try run.server.run(), run)
    }

    @Test func eachRoundTrainsThePlansBatchAndAppliesItsUpdateWithDiscountedWeights() throws {
        let dir = InMemoryServerTests.temporaryDirectory()
        let topology = try Self.topology(dir: dir)
        let (summary, run) = try Self.run(topology)
        #expect(summary.success, "\(summary.reason)")
        let plan = try #require(run.server.bufferedPlan)
        #expect(plan.updates.count == 6)
        let trained = run.transport.sent.compactMap { s -> (Int, [Int])? in if case let .train(t) = s.message { (t.round, t.clients) } else { nil } }
        for r in 1...6 {
            #expect(trained.filter { $0.0 == r }.flatMap(\.1).sorted() == plan.batches[r - 1].map(\.client).sorted(), "round \(r)")
        }
        let log = try AggregationLog.read(path: dir + "/mem/aggregation.jsonl")
        #expect(log.rounds.count == 6)
        var sawStale = false
        for (r, record) in log.rounds.enumerated() {
            let b = try #require(record.system?.buffered)
            let planned = plan.updates[r]
            #expect(b.version == r + 1 && b.clockSeconds == planned.time && record.system?.clockSeconds == planned.time)
            #expect(b.updates.map(\.client) == planned.buffer.map(\.entry.client).sorted())
            #expect(record.accepted == b.updates.map(\.client))
            for e in b.updates {
                #expect(e.discount == StalenessDiscount.polynomial(a: 0.5).factor(staleness: e.staleness))
                let w = try #require(record.weights[String(e.client)])
                #expect(abs((e.weight ?? -1) - w * e.discount) < 1e-12)
                if e.staleness > 0 { sawStale = true }
            }
        }
        #expect(sawStale, "the slow clients should arrive stale: \(plan.updates.map { $0.buffer.map(\.staleness) })")
        #expect(log.runStart?.notes.contains { $0.hasPrefix("buffered mode on the simulated clock: concurrency 3, buffer_size 2") } == true)
        #expect(log.runStart?.config?["server.mode"] == .string("buffered"))
    }

    @Test func theResultDoesNotDependOnHowClientsAreSpreadOverProcesses() throws {
        var checkpoints: [Data] = []
        for processes in [[[0, 1, 2, 3]], [[0, 2], [1], [3]]] {
            let dir = InMemoryServerTests.temporaryDirectory()
            #expect(try Self.run(try Self.topology(dir: dir), processes: processes).0.success)
            checkpoints.append(try Data(contentsOf: URL(fileURLWithPath: dir + "/mem/checkpoints/round-0006.safetensors")))
        }
        #expect(checkpoints[0] == checkpoints[1])
    }

    @Test func overStaleArrivalsAreDiscardedAndLogged() throws {
        let dir = InMemoryServerTests.temporaryDirectory()
        #expect(try Self.run(try Self.topology(dir: dir, server: "max_staleness = 0")).0.success)
        let log = try AggregationLog.read(path: dir + "/mem/aggregation.jsonl")
        let discarded = log.rounds.compactMap { $0.system?.buffered?.discarded }.flatMap { $0 }
        #expect(!discarded.isEmpty && discarded.allSatisfy { $0.staleness > 0 })
        #expect(log.rounds.allSatisfy { ($0.system?.buffered?.updates ?? []).allSatisfy { $0.staleness == 0 } })
    }

    /// The server holds (and saves in the run state) only the deltas a later update of the plan
    /// takes: after round r, those of batches 1…r that updates r + 1… take; after the last round,
    /// none, though the last rounds' clients trained.
    @Test func onlyDeltasALaterUpdateTakesAreHeldAndSaved() throws {
        for stop in [3, 6] {
            let dir = InMemoryServerTests.temporaryDirectory()
            let topology = try Self.topology(dir: dir)
            let (summary, run) = try Self.run(topology, stopAfterRound: stop < 6 ? stop : nil)
            #expect(summary.success == (stop == 6), "\(summary.reason)")
            let plan = try #require(run.server.bufferedPlan)
            let later = Set(plan.updates[stop...].flatMap { u in (u.buffer + u.discarded).map { BufferedPlan.Arrival($0.entry) } })
            let expected = Set(plan.batches[..<stop].joined().map(BufferedPlan.Arrival.init).filter { later.contains($0) })
            let saved = try RunStateStore(directory: RunDirectory(path: dir + "/mem")).load(topology: Array(topology.source.utf8))
            #expect(saved.round == stop)
            let triples = saved.integers[RunStateKey.staleUpdates] ?? []
            let held = Set(stride(from: 0, to: triples.count, by: 3).map { BufferedPlan.Arrival(client: triples[$0], startVersion: triples[$0 + 1]) })
            #expect(held == expected, "after round \(stop)")
            #expect(saved.vectors.keys.filter { $0.hasPrefix(RunStateKey.staleUpdates) }.count == expected.count)
            if stop == 6 {
                #expect(expected.isEmpty)
                #expect(plan.batches.joined().contains { !plan.consumed.contains(BufferedPlan.Arrival($0)) },
                        "some client should train after the last update: \(plan.batches)")
            } else {
                #expect(!expected.isEmpty, "some delta should wait past round \(stop)")
            }
        }
    }

    @Test func aResumedBufferedRunIsByteIdentical() throws {
        let dirA = InMemoryServerTests.temporaryDirectory()
        #expect(try Self.run(try Self.topology(dir: dirA)).0.success)
        let a = try Data(contentsOf: URL(fileURLWithPath: dirA + "/mem/checkpoints/round-0006.safetensors"))
        let logA = try AggregationLog.read(path: dirA + "/mem/aggregation.jsonl")
        for stop in [1, 3, 5] {
            let dirB = InMemoryServerTests.temporaryDirectory()
            #expect(try Self.run(try Self.topology(dir: dirB), stopAfterRound: stop).0.success == false)
            #expect(try Self.run(try Self.topology(dir: dirB), resume: true).0.success, "stop \(stop)")
            let b = try Data(contentsOf: URL(fileURLWithPath: dirB + "/mem/checkpoints/round-0006.safetensors"))
            #expect(a == b, "stopped after round \(stop)")
            let logB = try AggregationLog.read(path: dirB + "/mem/aggregation.jsonl")
            #expect(logA.rounds.map(\.system) == logB.rounds.map(\.system), "stopped after round \(stop)")
        }
    }
}
