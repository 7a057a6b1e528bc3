#if canImport(Glibc)
import Glibc
#endif
import AviaryProtocol
import AviaryTransport
import Testing

/// Real ROUTER/DEALER sockets on loopback; every client runs on its own Thread.
@Suite(.serialized) struct EndpointRoundTripTests {
    static func clientMessages(_ i: Int) -> [Message] {
        [
            .hello(HelloMessage(processName: "process-\(i)-鳥", claims: [ClientClaim(index: i, token: 7),
                                                                         ClientClaim(index: nil)])),
            .update(UpdateMessage(round: 1, clientIndex: i, token: UInt64.max - UInt64(i), samples: 6000 + i,
                                  metrics: ["train_loss": 0.5 + Double(i), "samples": 6000], delta: [Float(i), -1, 0.25, .infinity])),
            .failure(FailureMessage(round: 2, clientIndex: i + 10, token: 3, reason: "diverged")),
            .heartbeat,
            .bye(ByeMessage(clients: [i, i + 10])),
        ]
    }

    static func serverMessages(_ i: Int) -> [Message] {
        [
            .welcome(WelcomeMessage(accepted: [.init(index: i, token: 100 + UInt64(i))],
                                    refused: [.init(reason: .stated("run full"), retry: true, claims: 3, indices: [Int(i)...Int(i), 40...41])],
                                    heartbeatInterval: 2, liveness: 3, runSpec: Array("{\"client\":\(i)}".utf8))),
            .model(ModelMessage(round: 1, parameters: [1, 2, Float(i)])),
            .train(TrainMessage(round: 1, clients: [i, i + 10], config: ["lr": 0.05])),
            .heartbeat,
            .reject(RejectMessage(reason: "index \(i) taken")),
            .reset(ResetMessage(reason: "unknown connection")),
            .shutdown(ShutdownMessage(reason: "done")),
        ]
    }

    @Test func everyKindBetweenServerAndThreeClients() throws {
        let server = try ServerEndpoint(bind: "tcp://127.0.0.1:0", maxMessageBytes: 64 << 20)
        defer { server.close() }
        #expect(server.boundEndpoint.hasPrefix("tcp://127.0.0.1:"))
        #expect(!server.boundEndpoint.hasSuffix(":0"))
        let endpoint = server.boundEndpoint
        let clientCount = 3
        let received = Shared<[Int: [Message]]>([:])
        let sentBytes = Shared<[Int: [Int]]>([:])
        let failures = Shared<[String]>([])

        let workers = (0..<clientCount).map { i in
            Worker {
                do {
                    let client = try ClientEndpoint(connect: endpoint, identity: "client-\(i)")
                    defer { client.close() }
                    var sizes: [Int] = []
                    for m in Self.clientMessages(i) { sizes.append(try client.send(m)) }
                    sentBytes.update { $0[i] = sizes }
                    var got: [Message] = []
                    while got.count < Self.serverMessages(i).count {
                        guard let r = try client.receive(timeout: .seconds(10)) else { break }
                        got.append(try r.get())
                    }
                    received.update { $0[i] = got }
                } catch {
                    failures.update { $0.append("client \(i): \(error)") }
                }
            }
        }

        var byPeer: [PeerID: [Message]] = [:]
        for _ in 0..<(clientCount * Self.clientMessages(0).count) {
            let event = try #require(try server.receive(timeout: .seconds(10)), "server timed out waiting")
            guard case .message(let peer, let m, let bytes, _) = event else { Issue.record("unexpected \(event)"); continue }
            #expect(bytes == WireCodec.encodedSize(m), "ServerEvent.bytes of \(m.kind)")
            #expect(event.peer == peer)
            byPeer[peer, default: []].append(m)
        }
        for i in 0..<clientCount {
            let peer = PeerID(bytes: Array("client-\(i)".utf8))
            #expect(peer.description == "client-\(i)")
            #expect(byPeer[peer] == Self.clientMessages(i), "per-peer order and content for client \(i)")
            for m in Self.serverMessages(i) {
                #expect(try server.send(m, to: peer) == WireCodec.encodedSize(m), "bytes returned for \(m.kind)")
            }
        }
        for w in workers { #expect(w.join(), "client thread did not finish") }
        #expect(failures.get == [])
        for i in 0..<clientCount {
            #expect(received.get[i] == Self.serverMessages(i))
            #expect(sentBytes.get[i] == Self.clientMessages(i).map(WireCodec.encodedSize))
        }
    }

    @Test func clientsWithoutIdentityGetDistinctPeers() throws {
        let server = try ServerEndpoint(bind: "tcp://127.0.0.1:0", maxMessageBytes: 1 << 20)
        defer { server.close() }
        let endpoint = server.boundEndpoint
        let answers = Shared<[String: Message]>([:])
        let ready = Shared<Bool>(false)
        // Both connections live in one thread so they are open at the same time.
        let worker = Worker {
            guard let a = try? ClientEndpoint(connect: endpoint),
                  let b = try? ClientEndpoint(connect: endpoint) else { return }
            defer { a.close(); b.close() }
            _ = try? a.send(.hello(HelloMessage(processName: "a", claims: [ClientClaim(index: nil)])))
            _ = try? b.send(.hello(HelloMessage(processName: "b", claims: [ClientClaim(index: nil)])))
            ready.update { $0 = true }
            for (name, c) in [("a", a), ("b", b)] {
                if case .success(let m)? = try? c.receive(timeout: .seconds(10)) { answers.update { $0[name] = m } }
            }
        }
        var peers: [String: PeerID] = [:]
        while peers.count < 2, let event = try server.receive(timeout: .seconds(10)) {
            guard case .message(let peer, .hello(let h), _, _) = event else { Issue.record("got \(event)"); continue }
            peers[h.processName] = peer
        }
        let a = try #require(peers["a"]), b = try #require(peers["b"])
        #expect(a != b, "two connections without identity share PeerID \(a)")
        for p in [a, b] {
            #expect(p.bytes.count == 5 && p.bytes[0] == 0, "libzmq-generated identity, got \(p)")
        }
        // Each answer reaches the connection it is addressed to.
        try server.send(.reset(ResetMessage(reason: "to a")), to: a)
        try server.send(.reset(ResetMessage(reason: "to b")), to: b)
        #expect(worker.join())
        #expect(ready.get)
        #expect(answers.get == ["a": .reset(ResetMessage(reason: "to a")), "b": .reset(ResetMessage(reason: "to b"))])
    }

    @Test func fullSizeUpdateAndModelArriveIntact() throws {
        let n = 1_660_000
        let vector = (0..<n).map { Float(bitPattern: UInt32(truncatingIfNeeded: $0 &* 2_654_435_761) & 0xBF7F_FFFF) }
        let server = try ServerEndpoint(bind: "tcp://127.0.0.1:0", maxMessageBytes: 64 << 20)
        defer { server.close() }
        let endpoint = server.boundEndpoint
        let echoed = Shared<[Float]?>(nil)
        let worker = Worker {
            guard let client = try? ClientEndpoint(connect: endpoint) else { return }
            defer { client.close() }
            _ = try? client.send(.update(UpdateMessage(round: 3, clientIndex: 0, token: 99, samples: 6000, metrics: [:], delta: vector)))
            if case .success(.model(let m))? = try? client.receive(timeout: .seconds(20)) {
                echoed.update { $0 = m.parameters }
            }
        }
        let event = try #require(try server.receive(timeout: .seconds(20)))
        guard case .message(let peer, .update(let u), let bytes, _) = event else { Issue.record("got \(event.peer)"); return }
        let deltaIntact = u.payload.f32Values == vector  // a Bool, so a failure does not print 1.66M floats
        #expect(deltaIntact)
        #expect(u.token == 99)
        #expect(bytes == WireCodec.encodedSize(.update(u)))
        #expect(bytes == 8 + 32 + 8 + 1 + 8 + 4 * n + 4)  // … empty metrics, encoding tag, f32 count
        let model = Message.model(ModelMessage(round: 4, parameters: vector))
        #expect(try server.send(model, to: peer) == WireCodec.encodedSize(model))
        #expect(worker.join())
        let echoIntact = echoed.get == vector
        #expect(echoIntact)
    }

    @Test func ipcEndpointWorks() throws {
        // The pid keeps concurrent test processes on one machine apart.
        let path = "ipc:///tmp/aviary-transport-test-\(getpid()).sock"
        let server = try ServerEndpoint(bind: path, maxMessageBytes: 1 << 20)
        defer {
            server.close()
            unlink(String(path.dropFirst("ipc://".count)))  // libzmq leaves the socket file behind
        }
        let worker = Worker {
            guard let c = try? ClientEndpoint(connect: path, identity: nil) else { return }
            _ = try? c.send(.bye(ByeMessage(clients: [9, 4])))
            c.close(flushingFor: .seconds(2))
        }
        let event = try #require(try server.receive(timeout: .seconds(10)))
        guard case .message(let peer, let m, let bytes, _) = event else { Issue.record("got \(event)"); return }
        #expect(m == .bye(ByeMessage(clients: [9, 4])))
        #expect(bytes == 8 + 24 + 4)
        #expect(peer.bytes.count == 5 && peer.bytes[0] == 0, "libzmq-generated identity")
        #expect(peer.description.hasPrefix("0x00"))
        #expect(worker.join())
    }
}

@Suite(.serialized) struct EncodedMessageTests {
    @Test func oneEncodedModelReachesEveryClientIntact() throws {
        let parameters = (0..<300_000).map { Float($0) * 0.5 - 7 }
        let model = Message.model(ModelMessage(round: 2, parameters: parameters))
        let server = try ServerEndpoint(bind: "tcp://127.0.0.1:0", maxMessageBytes: 1 << 20)
        defer { server.close() }
        let endpoint = server.boundEndpoint
        let intact = Shared<[Int: Bool]>([:])
        let workers = (0..<3).map { i in
            Worker {
                guard let c = try? ClientEndpoint(connect: endpoint) else { return }
                defer { c.close() }
                _ = try? c.send(.hello(HelloMessage(processName: "c\(i)", claims: [ClientClaim(index: i)])))
                let got = try? c.receive(timeout: .seconds(10))
                let same = (try? got?.get()) == model
                intact.update { $0[i] = same }
            }
        }
        var peers: [PeerID] = []
        while peers.count < 3, let event = try server.receive(timeout: .seconds(10)) {
            if case .message(let peer, .hello, _, _) = event { peers.append(peer) }
        }
        #expect(peers.count == 3)
        #expect(Set(peers).count == 3)
        var encoded: EncodedMessage? = EncodedMessage(model)
        #expect(encoded?.count == WireCodec.encodedSize(model))
        #expect(encoded?.kind == .model)
        for peer in peers { #expect(try server.send(encoded!, to: peer) == WireCodec.encodedSize(model)) }
        encoded = nil  // libzmq's retains keep the bytes alive until the frames have left
        for w in workers { #expect(w.join()) }
        #expect(intact.get == [0: true, 1: true, 2: true])
        #expect(throws: ZmqError.peerUnreachable(PeerID(bytes: [9]))) {
            try server.send(EncodedMessage(.heartbeat), to: PeerID(bytes: [9]))
        }
    }
}
