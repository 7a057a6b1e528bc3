import AviaryProtocol
import AviaryTransport
import Testing

/// The end of a run: the server sends SHUTDOWN to every process and closes at once. Those
/// frames used to be lost, because nothing waited for them to leave before the process went on
/// (the context was never terminated). `close(flushingFor:)` must deliver them.
@Suite(.serialized) struct CleanShutdownTests {
    @Test func fiftyClientsEachGetTheirShutdownWhenTheServerClosesRightAfterSending() throws {
        let clientCount = 50
        // Linger 0: a bare close() discards queued frames at once, so only the flush of
        // close(flushingFor:) (linger raised, socket closed, own context terminated) delivers them.
        let server = try ServerEndpoint(bind: "tcp://127.0.0.1:0", maxMessageBytes: 1 << 20,
                                        options: TransportOptions(lingerMilliseconds: 0))
        let endpoint = server.boundEndpoint
        let got = Shared<[Int: Message]>([:])
        let failures = Shared<[String]>([])
        // Fifty DEALERs, each its own ClientEndpoint with its own context, as fifty processes.
        // They share one thread: a socket only needs to stay on one thread at a time.
        let worker = Worker {
            var clients: [ClientEndpoint] = []
            defer { for c in clients { c.close(flushingFor: .zero) } }
            do {
                for i in 0..<clientCount {
                    let c = try ClientEndpoint(connect: endpoint)
                    clients.append(c)
                    try c.send(.hello(HelloMessage(processName: "p\(i)", claims: [ClientClaim(index: i)])))
                }
                for (i, c) in clients.enumerated() {
                    guard let r = try c.receive(timeout: .seconds(10)) else { failures.update { $0.append("p\(i): nothing") }; continue }
                    let m = try r.get()
                    got.update { $0[i] = m }
                }
            } catch {
                failures.update { $0.append("\(error)") }
            }
        }

        var peers: [Int: PeerID] = [:]
        while peers.count < clientCount, let event = try server.receive(timeout: .seconds(20)) {
            guard case .message(let peer, .hello(let h), _) = event, let i = Int(h.processName.dropFirst()) else {
                Issue.record("unexpected event from \(event.peer)"); continue
            }
            peers[i] = peer
        }
        #expect(peers.count == clientCount)
        #expect(Set(peers.values).count == clientCount, "every connection has its own PeerID")
        for (i, peer) in peers {
            let m = Message.shutdown(ShutdownMessage(reason: "run over for p\(i)"))
            #expect(try server.send(m, to: peer) == WireCodec.encodedSize(m))
        }
        server.close(flushingFor: .seconds(2))
        #expect(throws: ZmqError.socketClosed(call: "zmq_msg_recv")) { try server.receive(timeout: .zero) }

        #expect(worker.join(seconds: 120), "client thread did not finish")
        #expect(failures.get == [])
        let shutdowns = got.get
        #expect(shutdowns.count == clientCount, "\(clientCount - shutdowns.count) SHUTDOWN frames were lost")
        for i in 0..<clientCount {
            #expect(shutdowns[i] == .shutdown(ShutdownMessage(reason: "run over for p\(i)")), "p\(i)")
        }
    }
}
