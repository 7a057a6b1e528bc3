import Foundation
import Testing
import AviaryLog
import AviaryPrivacy
import AviaryProtocol
import AviaryServer
import AviaryTopology
import AviaryTransport

/// Under DP a client — honest or Byzantine, they are served alike — sees only what every client
/// sees: the same WELCOME run spec, the same MODEL bytes and the same TRAIN config each round,
/// and the MODEL is the noised release, never the unnoised aggregate; no message carries another
/// client's norm, bit or update (the server sends only these kinds, and heartbeats and SHUTDOWN).
@Suite struct PrivacyBroadcastTests {
    @Test(arguments: ["server", "client"])
    func everyClientReceivesTheSameNoisedReleaseAndNothingPerClient(_ clipOn: String) throws {
        let dir = InMemoryServerTests.temporaryDirectory()
        var text = try InMemoryServerTests.topology(dir: dir, clients: 4, rounds: 3).source
        text += "\n[privacy]\nmode = \"central\"\nclipping = \"adaptive\"\nclip_on = \"\(clipOn)\"\nclip_norm = 0.05\n"
            + "noise_multiplier = 1\nclipped_count_stddev = 1\n"
        let topology = try Topology.parse(text)
        // What the clients sent, by round, clipped on the client when clip_on = "client".
        var sentUpdates: [Int: [Int: [Float]]] = [:]
        let run = try InMemoryServerTests.makeRun(topology) { transport, scripted in
            transport.respond = { peer, message in
                var out = scripted.respond(peer, message)
                guard case let .train(t) = message else { return out }
                for (k, m) in out.enumerated() {
                    guard case var .update(u) = m, case let .f32(delta) = u.payload else { continue }
                    var d = delta
                    if clipOn == "client", let s = t.config[PrivacySettings.roundClipNormKey] {
                        let norm = Clipping.clip(&d, to: s)
                        u.metrics[PrivacySettings.unclippedMetric] = norm <= s ? 1 : 0
                        u.payload = .f32(d)
                        out[k] = .update(u)
                    }
                    sentUpdates[t.round, default: [:]][u.clientIndex] = d
                }
                return out
            }
        }
        for (peer, clients) in [("a", [0, 1]), ("b", [2]), ("byzantine", [3])] {
            run.transport.deliver(InMemoryServerTests.hello(clients), from: PeerID(bytes: Array(peer.utf8)))
        }
        #expect(try run.server.run().success)
        let log = try AggregationLog.read(path: dir + "/mem/aggregation.jsonl")
        #expect(log.rounds.count == 3 && log.rounds.allSatisfy { $0.rejected.isEmpty })

        let sent = run.transport.sent
        for m in sent {
            switch m.message {
            case .welcome, .model, .train, .heartbeat, .shutdown: break
            default: Issue.record("the server sent \(m.message) to \(m.peer)")
            }
        }
        let welcomes = sent.compactMap { if case let .welcome(w) = $0.message { w.runSpec } else { nil } }
        #expect(welcomes.count == 3 && Set(welcomes).count == 1)
        var models: [Int: [Float]] = [:]
        for round in 1...4 {
            let here = sent.compactMap { if case let .model(x) = $0.message, x.round == round { x.parameters } else { nil } }
            let trains = sent.compactMap { if case let .train(t) = $0.message, t.round == round { t.config } else { nil } }
            if round <= 3 {
                #expect(here.count == 3 && Set(here.map { $0.map(\.bitPattern) }).count == 1, "round \(round): MODELs differ")
                #expect(trains.count == 3 && Set(trains).count == 1, "round \(round): TRAIN configs differ")
                let keys = Set(trains.flatMap(\.keys))
                #expect(keys.isSubset(of: [PrivacySettings.roundClipNormKey]), "round \(round): \(keys)")
                #expect((clipOn == "client") == keys.contains(PrivacySettings.roundClipNormKey))
            }
            models[round] = here.first
        }
        // The release is the noised aggregate: MODEL(r+1) − MODEL(r) minus the unnoised mean of
        // the clipped deltas is the noise, with the std the log records (z·S/n per coordinate).
        for r in log.rounds where r.round < 3 {
            guard let before = models[r.round], let after = models[r.round + 1], let updates = sentUpdates[r.round],
                  let p = r.privacy, let std = p.noiseStd else { Issue.record("round \(r.round) incomplete"); continue }
            var unnoised = [Double](repeating: 0, count: before.count)
            for (_, d) in updates {
                let f = Clipping.factor(norm: Clipping.norm(d), clipNorm: p.clipNorm)
                for i in d.indices { unnoised[i] += f * Double(d[i]) / 4 }
            }
            let residual = before.indices.map { Double(after[$0] - before[$0]) - unnoised[$0] }
            let measured = (residual.map { $0 * $0 }.reduce(0, +) / Double(residual.count)).squareRoot()
            #expect(abs(measured / std - 1) < 0.15, "round \(r.round): noise std \(measured), logged \(std)")
        }
    }
}
