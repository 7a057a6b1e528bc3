import AviaryProtocol
import AviaryTransport
import Testing

/// The end of a run: the server sends SHUTDOWN to every process and closes at once. Those
/// frames used to be lost, because nothing waited for them to leave before the process went on
/// (the context was never terminated). `close(flushingFor:)` must deliver them.
///
/// In one test process the libzmq I/O thread would keep sending after a bare close() as long as
/// the linger allows, so the server is made to drop frames on a bare close (linger 0) and to
/// have megabytes queued when it closes (a 1.2 MB MODEL per client before its SHUTDOWN): with
/// close() instead of close(flushingFor:) most clients then miss their SHUTDOWN. What a single
/// process cannot show is the exit itself; that is what terminating the context adds.
@Suite(.serialized) struct CleanShutdownTests {
    @Test func fiftyClientsEachGetTheirShutdownWhenTheServerClosesRightAfterSending() throws {
        let clientCount = 50
        // Linger 0: a bare close() discards queued frames at once, so only the flush of
        // close(flushingFor:) (linger raised, socket closed, own context terminated) delivers them.
        let server = try ServerEndpoint(bind: "tcp://127.0.0.1:0", maxMessageBytes: 1 << 20,
                                        options: TransportOptions(lingerMilliseconds: 0))
        let endpoint = server.boundEndpoint
        let got = Shared<[Int: Message]>([:])
        let modelsIntact = Shared<[Int: Bool]>([:])
        let model = Message.model(ModelMessage(round: 9, parameters: (0..<300_000).map { Float($0) * 0.25 }))
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
                // One deadline for all, so a failing run ends in seconds, not 50 timeouts.
                let clock = ContinuousClock()
                let deadline = clock.now + .seconds(30)
                for (i, c) in clients.enumerated() {
                    guard let first = try c.receive(timeout: max(.zero, deadline - clock.now)) else { failures.update { $0.append("p\(i): nothing") }; continue }
                    let same = (try first.get()) == model  // a Bool, so a failure does not print 300k floats
                    modelsIntact.update { $0[i] = same }
                    guard let r = try c.receive(timeout: max(.zero, deadline - clock.now)) else { failures.update { $0.append("p\(i): no SHUTDOWN") }; continue }
                    let m = try r.get()
                    got.update { $0[i] = m }
                }
            } catch {
                failures.update { $0.append("\(error)") }
            }
        }

        var peers: [Int: PeerID] = [:]
        while peers.count < clientCount, let event = try server.receive(timeout: .seconds(20)) {
            guard case .message(let peer, .hello(let h), _, _) = event, let i = Int(h.processName.dropFirst()) else {
                Issue.record("unexpected event from \(event.peer)"); continue
            }
            peers[i] = peer
        }
        #expect(peers.count == clientCount)
        #expect(Set(peers.values).count == clientCount, "every connection has its own PeerID")
        let encodedModel = EncodedMessage(model)
        for (i, peer) in peers {
            #expect(try server.send(encodedModel, to: peer) == WireCodec.encodedSize(model))
            let m = Message.shutdown(ShutdownMessage(reason: "run over for p\(i)"))
            #expect(try server.send(m, to: peer) == WireCodec.encodedSize(m))
        }
        server.close(flushingFor: .seconds(2))
        #expect(throws: ZmqError.socketClosed(call: "zmq_msg_recv")) { try server.receive(timeout: .zero) }

        #expect(worker.join(seconds: 60), "client thread did not finish")
        #expect(failures.get == [])
        #expect(modelsIntact.get == Dictionary(uniqueKeysWithValues: (0..<clientCount).map { ($0, true) }))
        let shutdowns = got.get
        #expect(shutdowns.count == clientCount, "\(clientCount - shutdowns.count) SHUTDOWN frames were lost")
        for i in 0..<clientCount {
            #expect(shutdowns[i] == .shutdown(ShutdownMessage(reason: "run over for p\(i)")), "p\(i)")
        }
    }
}
