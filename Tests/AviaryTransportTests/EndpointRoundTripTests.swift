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
            .hello(Hello(clientName: "client-\(i)-鳥", requestedIndex: i)),
            .update(Update(round: 1, clientIndex: i, samples: 6000 + i,
                           metrics: ["train_loss": 0.5 + Double(i), "samples": 6000], delta: [Float(i), -1, 0.25, .infinity])),
            .failure(Failure(round: 2, clientIndex: i, reason: "diverged")),
            .heartbeat(Heartbeat()),
            .bye(Bye(clientIndex: i)),
        ]
    }

    static func serverMessages(_ i: Int) -> [Message] {
        [
            .welcome(Welcome(clientIndex: i, runSpec: Array("{\"client\":\(i)}".utf8))),
            .task(Task(round: 1, parameters: [1, 2, Float(i)], config: ["lr": 0.05])),
            .heartbeat(Heartbeat()),
            .reject(Reject(reason: "index \(i) taken")),
            .shutdown(Shutdown(reason: "done")),
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
        let failures = Shared<[String]>([])

        let workers = (0..<clientCount).map { i in
            Worker {
                do {
                    let client = try ClientEndpoint(connect: endpoint, identity: "client-\(i)")
                    defer { client.close() }
                    for m in Self.clientMessages(i) { try client.send(m) }
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
        for _ in 0..<(clientCount * 5) {
            let event = try #require(try server.receive(timeout: .seconds(10)), "server timed out waiting")
            guard case .message(let peer, let m) = event else { Issue.record("unexpected \(event)"); continue }
            byPeer[peer, default: []].append(m)
        }
        for i in 0..<clientCount {
            let peer = PeerID(bytes: Array("client-\(i)".utf8))
            #expect(peer.description == "client-\(i)")
            #expect(byPeer[peer] == Self.clientMessages(i), "per-peer order and content for client \(i)")
            for m in Self.serverMessages(i) { try server.send(m, to: peer) }
        }
        for w in workers { #expect(w.join(), "client thread did not finish") }
        #expect(failures.get == [])
        for i in 0..<clientCount { #expect(received.get[i] == Self.serverMessages(i)) }
    }

    @Test func fullSizeUpdateAndTaskArriveIntact() throws {
        let n = 1_660_000
        let vector = (0..<n).map { Float(bitPattern: UInt32(truncatingIfNeeded: $0 &* 2_654_435_761) & 0xBF7F_FFFF) }
        let server = try ServerEndpoint(bind: "tcp://127.0.0.1:0", maxMessageBytes: 64 << 20)
        defer { server.close() }
        let endpoint = server.boundEndpoint
        let echoed = Shared<[Float]?>(nil)
        let worker = Worker {
            guard let client = try? ClientEndpoint(connect: endpoint, identity: "big") else { return }
            defer { client.close() }
            try? client.send(.update(Update(round: 3, clientIndex: 0, samples: 6000, metrics: [:], delta: vector)))
            if case .success(.task(let t))? = try? client.receive(timeout: .seconds(20)) {
                echoed.update { $0 = t.parameters }
            }
        }
        let event = try #require(try server.receive(timeout: .seconds(20)))
        guard case .message(let peer, .update(let u)) = event else { Issue.record("got \(event)"); return }
        let deltaIntact = u.delta == vector  // a Bool, so a failure does not print 1.66M floats
        #expect(deltaIntact)
        try server.send(.task(Task(round: 4, parameters: u.delta, config: [:])), to: peer)
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
            try? c.send(.bye(Bye(clientIndex: 9)))
            c.close()
        }
        let event = try #require(try server.receive(timeout: .seconds(10)))
        guard case .message(let peer, let m) = event else { Issue.record("got \(event)"); return }
        #expect(m == .bye(Bye(clientIndex: 9)))
        #expect(peer.bytes.count == 5 && peer.bytes[0] == 0, "libzmq-generated identity")
        #expect(peer.description.hasPrefix("0x00"))
        #expect(worker.join())
    }
}

@Suite(.serialized) struct EncodedMessageTests {
    @Test func oneEncodedTaskReachesEveryClientIntact() throws {
        let parameters = (0..<300_000).map { Float($0) * 0.5 - 7 }
        let task = Message.task(Task(round: 2, parameters: parameters, config: ["lr": 0.05]))
        let server = try ServerEndpoint(bind: "tcp://127.0.0.1:0", maxMessageBytes: 1 << 20)
        defer { server.close() }
        let endpoint = server.boundEndpoint
        let intact = Shared<[Int: Bool]>([:])
        let workers = (0..<3).map { i in
            Worker {
                guard let c = try? ClientEndpoint(connect: endpoint, identity: "c\(i)") else { return }
                defer { c.close() }
                try? c.send(.hello(Hello(clientName: "c\(i)", requestedIndex: i)))
                let got = try? c.receive(timeout: .seconds(10))
                let same = (try? got?.get()) == task
                intact.update { $0[i] = same }
            }
        }
        var peers: [PeerID] = []
        while peers.count < 3, let event = try server.receive(timeout: .seconds(10)) {
            if case .message(let peer, .hello) = event { peers.append(peer) }
        }
        #expect(peers.count == 3)
        var encoded: EncodedMessage? = EncodedMessage(task)
        #expect(encoded?.count == WireCodec.encodedSize(task))
        #expect(encoded?.kind == .task)
        for peer in peers { try server.send(encoded!, to: peer) }
        encoded = nil  // libzmq's retains keep the bytes alive until the frames have left
        for w in workers { #expect(w.join()) }
        #expect(intact.get == [0: true, 1: true, 2: true])
        #expect(throws: ZmqError.peerUnreachable(PeerID(bytes: [9]))) {
            try server.send(EncodedMessage(.heartbeat(Heartbeat())), to: PeerID(bytes: [9]))
        }
    }
}
