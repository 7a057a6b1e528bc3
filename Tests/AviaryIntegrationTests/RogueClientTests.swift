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
        let (server, listening) = try Harness.startServer(topology: topo, runDirectory: dir + "/rogue", log: dir + "/server.out")
        defer { if server.isRunning { server.terminate() } }
        let endpoint = try #require(listening, "server never listened")
        let honest = try Harness.start("aviary-client", ["--connect", endpoint, "--clients", "0"], log: dir + "/c0.out")
        defer { if honest.isRunning { honest.terminate() } }

        let rogue = try ClientEndpoint(connect: endpoint)
        defer { rogue.close() }
        try rogue.send(.hello(HelloMessage(processName: "rogue", claims: [ClientClaim(index: 1)])))
        var token: SessionToken = 0
        var model: [Float] = []
        var tasks = 0
        var hijack: WelcomeMessage?
        let deadline = Date().addingTimeInterval(90)
        while server.isRunning && Date() < deadline {
            guard case let .success(message)? = try rogue.receive(timeout: .milliseconds(100)) else { continue }
            switch message {
            case let .welcome(w): token = w.accepted.first { $0.index == 1 }?.token ?? 0
            case let .model(m): model = m.parameters
            case let .train(task):
                tasks += 1
                let n = model.count
                func update(_ client: Int, round: Int, token: SessionToken, samples: Int = 10, delta: [Float]) -> Message {
                    .update(UpdateMessage(round: round, clientIndex: client, token: token, samples: samples, metrics: ["train_loss": 1], delta: delta))
                }
                switch task.round {
                case 1:  // wrong length, then a stale duplicate the server must ignore
                    try rogue.send(update(1, round: 1, token: token, delta: [Float](repeating: 0, count: n - 1)))
                    try rogue.send(update(1, round: 0, token: token, delta: [Float](repeating: 0, count: n)))
                case 2:  // NaN in the delta
                    var d = [Float](repeating: 0, count: n)
                    d[n / 2] = .nan
                    try rogue.send(update(1, round: 2, token: token, delta: d))
                default:
                    // Claims to be the honest client (ignored: it does not host client 0), and a
                    // second connection tries to take client 0's slot without its token.
                    try rogue.send(update(0, round: task.round, token: 42, delta: [Float](repeating: 1e30, count: n)))
                    let thief = try ClientEndpoint(connect: endpoint)
                    defer { thief.close() }
                    try thief.send(.hello(HelloMessage(processName: "thief", claims: [ClientClaim(index: 0, token: 7)])))
                    if case let .success(.welcome(w))? = try thief.receive(timeout: .seconds(10)) { hijack = w }
                    try rogue.send(update(1, round: task.round, token: token, samples: 0, delta: [Float](repeating: 0, count: n)))
                }
            default: continue
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
        #expect(reasons[2].contains("0 samples"), "\(reasons)")
        #expect(hijack?.accepted.isEmpty == true)
        #expect(hijack?.refused.first?.reason.description.contains("session token") == true, "\(String(describing: hijack))")
        let issues = log.notes.filter { $0.event == "protocol_issues" }.map(\.message).joined(separator: " ")
        #expect(issues.contains("does not host"), "\(issues)")
        #expect(log.rounds.allSatisfy { $0.accepted == [0] })
        #expect(log.rounds.last?.eval?.cleanLoss.isFinite == true)
    }
}
