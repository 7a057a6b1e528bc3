import Foundation
import Testing
import AviaryLog
import AviaryProtocol
import AviaryTransport

/// A live server process faced with a client that lies: wrong shapes, NaNs, someone else's
/// index, stale rounds. The server must reject each with a logged reason and finish the run.
@Suite(.serialized) struct RogueClientTests {
    @Test func serverRejectsBadUpdatesAndFinishes() throws {
        let dir = Harness.temporaryDirectory("rogue")
        let topo = dir + "/t.toml"
        try Harness.topology(name: "rogue", output: dir, clients: 2, rounds: 3, processes: 1, roundTimeout: 20)
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let server = try Harness.start("aviary-server", ["--topology", topo], log: dir + "/server.out")
        defer { if server.isRunning { server.terminate() } }
        let endpoint = try #require(Harness.waitForFile(dir + "/rogue/endpoint", timeout: 30), "server never listened")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let honest = try Harness.start("aviary-client", ["--connect", endpoint, "--clients", "0"], log: dir + "/c0.out")
        defer { if honest.isRunning { honest.terminate() } }

        let rogue = try ClientEndpoint(connect: endpoint, identity: "rogue")
        defer { rogue.close() }
        try rogue.send(.hello(Hello(clientName: "rogue", requestedIndex: 1)))
        var tasks = 0
        let deadline = Date().addingTimeInterval(90)
        while server.isRunning && Date() < deadline {
            guard case let .success(message)? = try rogue.receive(timeout: .milliseconds(100)) else { continue }
            guard case let .task(task) = message else { continue }
            tasks += 1
            let n = task.parameters.count
            switch task.round {
            case 1:  // wrong length, then a stale duplicate the server must ignore
                try rogue.send(.update(Update(round: 1, clientIndex: 1, samples: 10, metrics: ["train_loss": 1], delta: [Float](repeating: 0, count: n - 1))))
                try rogue.send(.update(Update(round: 0, clientIndex: 1, samples: 10, metrics: ["train_loss": 1], delta: [Float](repeating: 0, count: n))))
            case 2:  // NaN in the delta
                var d = [Float](repeating: 0, count: n)
                d[n / 2] = .nan
                try rogue.send(.update(Update(round: 2, clientIndex: 1, samples: 10, metrics: ["train_loss": 1], delta: d)))
            default:  // claims to be the honest client
                try rogue.send(.update(Update(round: task.round, clientIndex: 0, samples: 10, metrics: ["train_loss": 1], delta: [Float](repeating: 1e30, count: n))))
            }
        }
        server.waitUntilExit()
        #expect(server.terminationStatus == 0, "server failed; see \(dir)/server.out")
        #expect(tasks == 3)
        let log = try AggregationLog.read(path: dir + "/rogue/aggregation.jsonl")
        #expect(log.rounds.count == 3)
        let reasons = log.rounds.map { $0.rejected.first { $0.client == 1 }?.reason ?? "" }
        #expect(reasons[0].contains("values"), "\(reasons)")
        #expect(reasons[1].contains("delta["), "\(reasons)")
        #expect(reasons[2].contains("claims to be client 0"), "\(reasons)")
        #expect(log.rounds.allSatisfy { $0.accepted == [0] })
        #expect(log.rounds.last?.eval?.cleanLoss.isFinite == true)
    }
}
