import AviaryProtocol
import AviaryTransport
import Foundation
import Testing

/// CURVE on real sockets: the ZAP handler refuses keys that are not on the allow-list (and
/// counts them), and the key it authenticated reaches the state machine with each message.
@Suite(.serialized, .enabled(if: CurveKeyPair.isAvailable, "this libzmq has no CURVE (built without libsodium)"))
struct CurveEndpointTests {
    /// Serves `server` on the calling thread until `worker` finishes, collecting what arrived.
    static func serve(_ server: ServerEndpoint, until worker: Worker,
                      handle: (ServerEvent) throws -> Void = { _ in }) rethrows -> (events: [ServerEvent], refused: [RefusedHandshake]) {
        var events: [ServerEvent] = []
        var refused: [RefusedHandshake] = []
        while !worker.join(seconds: 0) {
            if let e = try? server.receive(timeout: .milliseconds(20)) { events.append(e); try handle(e) }
            refused += server.takeRefusedHandshakes()
        }
        refused += server.takeRefusedHandshakes()
        return (events, refused)
    }

    @Test func anUnknownKeyCannotConnectAndIsCounted() throws {
        let serverKeys = try CurveKeyPair.generate()
        let known = try CurveKeyPair.generate()
        let stranger = try CurveKeyPair.generate()
        let list = AllowList(bindings: [known.publicKey: .any])
        let server = try ServerEndpoint(bind: "tcp://127.0.0.1:0", maxMessageBytes: 1 << 20,
                                        security: .curve(server: serverKeys, allowList: list))
        defer { server.close() }
        #expect(server.isCurve)
        let endpoint = server.boundEndpoint
        let outcome = Shared<String>("")
        let worker = Worker {
            do {
                let client = try ClientEndpoint(connect: endpoint, curve: ClientCurve(client: stranger, serverPublicKey: serverKeys.publicKey))
                defer { client.close() }
                try client.send(.hello(HelloMessage(processName: "stranger", claims: [ClientClaim(index: 0)])))
                // Bounded: libzmq retries the handshake until the refusal is reported.
                for _ in 0..<300 { if try client.receive(timeout: .milliseconds(100)) != nil { outcome.update { $0 = "got a message" }; return } }
                outcome.update { $0 = "never refused" }
            } catch let error as ZmqError {
                outcome.update { $0 = "\(error)" }
            } catch { outcome.update { $0 = "unexpected \(error)" } }
        }
        let (events, refused) = try Self.serve(server, until: worker)
        #expect(events.isEmpty, "a refused peer delivered \(events.count) events")
        #expect(outcome.get == "\(ZmqError.authenticationRefused(endpoint: endpoint, status: 400))")
        #expect(refused.contains { $0.key == stranger.publicKey && $0.address == "127.0.0.1" && $0.attempts >= 1 })
    }

    @Test func aKeyBoundToThreeCannotRegisterFourOverSockets() throws {
        let serverKeys = try CurveKeyPair.generate()
        let client = try CurveKeyPair.generate()
        let list = AllowList(bindings: [client.publicKey: .indices([3...3])])
        let server = try ServerEndpoint(bind: "tcp://127.0.0.1:0", maxMessageBytes: 1 << 20,
                                        security: .curve(server: serverKeys, allowList: list))
        defer { server.close() }
        var machine = ServerStateMachine<PeerID>(configuration: .init(
            clients: 10, minClientsToStart: 10, clientsPerRound: 10, rounds: 1, parameterCount: 1,
            roundTimeout: 100, registrationTimeout: 300, samplingSeed: 1, runSpec: [], allowList: list))
        _ = machine.start(parameters: [0], now: 0)
        let endpoint = server.boundEndpoint
        let welcome = Shared<WelcomeMessage?>(nil)
        let failure = Shared<String?>(nil)
        let worker = Worker {
            do {
                let dealer = try ClientEndpoint(connect: endpoint, curve: ClientCurve(client: client, serverPublicKey: serverKeys.publicKey))
                defer { dealer.close() }
                try dealer.send(.hello(HelloMessage(processName: "bound", claims: [ClientClaim(index: 3), ClientClaim(index: 4)])))
                for _ in 0..<300 {
                    if case let .success(.welcome(w))? = try dealer.receive(timeout: .milliseconds(100)) { welcome.update { $0 = w }; return }
                }
                failure.update { $0 = "no WELCOME" }
            } catch { failure.update { $0 = "\(error)" } }
        }
        var keys: [String?] = []
        _ = try Self.serve(server, until: worker) { event in
            guard case let .message(peer, message, _, clientKey) = event else { return }
            keys.append(clientKey)
            for case let .send(to, reply) in machine.receive(message, from: peer, clientKey: clientKey, now: 1) {
                _ = try server.send(reply, to: to)
            }
        }
        #expect(failure.get == nil)
        #expect(keys == [client.publicKey])
        let w = try #require(welcome.get)
        #expect(w.accepted.map(\.index) == [3])
        #expect(w.refused.map(\.indices) == [[4...4]])
        #expect(machine.peer(hosting: 4) == nil)
    }

    @Test func badKeysAreRefusedBeforeAnySocketWork() throws {
        #expect(throws: ZmqError.invalidCurveKey(role: "server public key")) {
            _ = try ClientEndpoint(connect: "tcp://127.0.0.1:1",
                                   curve: ClientCurve(client: try CurveKeyPair.generate(), serverPublicKey: "short"))
        }
        let pair = try CurveKeyPair.generate()
        #expect(try CurveKeyPair.publicKey(forSecret: pair.secretKey) == pair.publicKey)
    }
}
