import Foundation
import Testing
import AviaryLog
import AviaryMerge
import AviaryProtocol
@testable import AviaryServer
import AviaryTopology
import AviaryTransport

/// Buffered mode on the wall clock through the whole server and the in-memory transport: the
/// buffer is what arrived, in the order received, discounted by staleness; the log and
/// run_start say the wall clock ran; a resumed run restarts the clients that were in flight.
@Suite struct WallServerTests {
    static func topology(dir: String, rounds: Int = 5, server: String = "") throws -> Topology {
        try InMemoryServerTests.topology(dir: dir, clients: 6, rounds: rounds, optimizer: """
        mode = "buffered"
        clock = "wall"
        concurrency = 3
        buffer_size = 2
        staleness = "polynomial"
        staleness_a = 0.5
        checkpoint_every = 1
        \(server)
        """)
    }

    static func run(_ topology: Topology, resume: Bool = false, stopAfterRound: Int? = nil) throws -> (FederatedServer.Summary, InMemoryServerTests.Run) {
        let run = try InMemoryServerTests.makeRun(topology, resume: resume, stopAfterRound: stopAfterRound)
        run.transport.deliver(InMemoryServerTests.hello([0, 1, 2]), from: PeerID(bytes: Array("\(resume ? "b" : "a")0".utf8)))
        run.transport.deliver(InMemoryServerTests.hello([3, 4, 5]), from: PeerID(bytes: Array("\(resume ? "b" : "a")1".utf8)))
        return (try run.server.run(), run)
    }

    @Test func eachUpdateIsTheBufferAsReceivedWithDiscountedWeights() throws {
        let dir = InMemoryServerTests.temporaryDirectory()
        let (summary, run) = try Self.run(try Self.topology(dir: dir))
        #expect(summary.success, "\(summary.reason)")
        #expect(run.server.bufferedPlan == nil, "no precomputed plan on the wall clock")
        let log = try AggregationLog.read(path: dir + "/mem/aggregation.jsonl")
        #expect(log.rounds.count == 5)
        var sawStale = false
        for (r, record) in log.rounds.enumerated() {
            let b = try #require(record.system?.buffered)
            #expect(b.version == r + 1 && b.clock == "wall" && b.updates.count == 2)
            #expect(record.accepted == b.updates.map(\.client))
            for e in b.updates {
                #expect(e.staleness == r - e.startVersion, "applied to version \(r)")
                #expect(e.discount == StalenessDiscount.polynomial(a: 0.5).factor(staleness: e.staleness))
                let w = try #require(record.weights[String(e.client)])
                #expect(abs((e.weight ?? -1) - w * e.discount) < 1e-12)
                if e.staleness > 0 { sawStale = true }
            }
        }
        #expect(sawStale, "arrivals during a merge are applied one version later")
        // TRAINs are tagged with the update they start in; none goes out twice for one client and tag.
        let trained = run.transport.sent.compactMap { s -> (Int, [Int])? in if case let .train(t) = s.message { (t.round, t.clients) } else { nil } }
        let pairs = trained.flatMap { t in t.1.map { "\(t.0):\($0)" } }
        #expect(Set(pairs).count == pairs.count)
        #expect(log.runStart?.notes.contains { $0.hasPrefix("buffered mode on the wall clock (not reproducible") } == true)
        #expect(log.runStart?.config?["server.clock"] == .string("wall"))
    }

    @Test func aResumedWallRunRestartsTheClientsInFlightAndCompletes() throws {
        let dir = InMemoryServerTests.temporaryDirectory()
        #expect(try Self.run(try Self.topology(dir: dir), stopAfterRound: 2).0.success == false)
        let stopped = try AggregationLog.read(path: dir + "/mem/aggregation.jsonl").rounds.count
        #expect(stopped >= 2 && stopped < 5)
        let (summary, run) = try Self.run(try Self.topology(dir: dir), resume: true)
        #expect(summary.success, "\(summary.reason)")
        let log = try AggregationLog.read(path: dir + "/mem/aggregation.jsonl")
        #expect(log.rounds.map(\.round) == [1, 2, 3, 4, 5])
        // The resumed server starts a full set of slots on the saved version.
        let firstTrain = run.transport.sent.compactMap { s -> TrainMessage? in if case let .train(t) = s.message { t } else { nil } }.first
        #expect(firstTrain?.round == stopped + 1)
        #expect(FileManager.default.fileExists(atPath: dir + "/mem/checkpoints/round-0005.safetensors"))
    }
}
