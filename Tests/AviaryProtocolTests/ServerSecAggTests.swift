import Testing
import AviaryMath
import AviaryProtocol
import AviarySecAgg

/// `[secagg]` in the server's round pipeline, with `SecAggClient`s answering over the state
/// machine's messages (no sockets): stage 1 rides with TRAIN, stages 2–4 follow, the round's
/// outcome is the weighted mean of the clients whose masked input was unmasked, dropouts at
/// every stage, fewer than t fails the round and the run goes on.
@Suite struct ServerSecAggTests {
    typealias Machine = ServerStateMachine<String>
    static let parameterCount = 4

    enum Death: Equatable { case none, beforeKeys, beforeSharing, beforeMasking, beforeUnmasking }

    /// The clients' side: one `SecAggClient` per (client, round), quantised inputs fixed per client.
    struct Clients {
        var machines: [Int: SecAggClient] = [:]
        var inputs: [Int: [UInt32]] = [:]
        var deaths: [Int: Death] = [:]
        /// Dead clients' processes are reported lost to the server when a message reaches them
        /// (as a send to a gone connection would); false leaves them silent until the deadline.
        var reportLost = true
        /// Replaces a client's reply body (a hostile or broken client).
        var garbage: Set<Int> = []
        var refusals: [Int: SecAggError] = [:]
    }

    static func quantiser() -> FixedPointQuantiser { try! FixedPointQuantiser(clippingRange: 1, quantisationBits: 16, modulusBits: 32) }

    static func delta(_ c: Int) -> [Float] { (0..<parameterCount).map { Float(c + 1) * 0.01 * Float($0 % 2 == 0 ? 1 : -1) } }
    static func weight(_ c: Int) -> Double { 0.2 + 0.1 * Double(c % 5) }

    static func input(_ c: Int) -> [UInt32] {
        var stream = RandomStream(seed: 11, purpose: .quantisation, index: UInt64(c))
        return try! quantiser().quantise(try! WeightedInput.make(delta: delta(c), weight: weight(c), clippingRange: 1), stream: &stream)
    }

    func makeMachine(clients: Int = 8, rounds: Int = 2, degree: Int = 4, threshold: Int = 3) -> Machine {
        var configuration = Machine.Configuration(
            clients: clients, minClientsToStart: clients, clientsPerRound: clients, rounds: rounds,
            parameterCount: Self.parameterCount, roundTimeout: 100, registrationTimeout: 30,
            liveness: LivenessSettings(heartbeatIntervalSeconds: 1000, missedHeartbeats: 3), samplingSeed: 7, tokenSeed: 99,
            runSpec: Array("{}".utf8))
        configuration.secAgg = SecAggPlan(stageTimeout: 10) { round, participants in
            do throws(SecAggError) {
                return .success(try SecAggParameters(round: round, participants: participants, degree: degree, threshold: threshold,
                                                     graphSeed: 5, quantiser: Self.quantiser(), vectorLength: Self.parameterCount + 1))
            } catch { return .failure(error) }
        }
        var m = Machine(configuration: configuration)
        _ = m.start(parameters: [Float](repeating: 0, count: Self.parameterCount), now: 0)
        return m
    }

    /// Registers client i on peer "p<i>" and runs everything that follows to quiescence.
    func register(_ m: inout Machine, _ clients: inout Clients, count: Int, now: Double = 1) -> [Machine.Action] {
        var all: [Machine.Action] = []
        for i in 0..<count { all += pump(&m, &clients, m.receive(.hello(HelloMessage(processName: "p\(i)", claims: [ClientClaim(index: i, token: 0)])), from: "p\(i)", now: now), now: now) }
        return all
    }

    /// Delivers the server's SECAGG frames to the clients and their replies back, until nothing
    /// is left to deliver; returns every action the machine produced.
    func pump(_ m: inout Machine, _ clients: inout Clients, _ initial: [Machine.Action], now: Double) -> [Machine.Action] {
        var queue = initial, all: [Machine.Action] = []
        while !queue.isEmpty {
            let action = queue.removeFirst()
            all.append(action)
            guard case let .send(peer, .secAgg(frame)) = action else { continue }
            let c = frame.clientIndex
            let stage = SecAggBodyCodec.Stage(rawValue: frame.stage)!
            let death = clients.deaths[c] ?? .none
            let dies: Bool = switch stage {
            case .advertiseKeys: death == .beforeKeys
            case .shareKeys: death == .beforeSharing
            case .maskedInput: death == .beforeMasking
            case .unmasking: death == .beforeUnmasking
            }
            if dies {
                if clients.reportLost { queue += m.peerUnreachable(peer, now: now) }
                continue
            }
            let answer: SecAggClientMessage
            do throws(SecAggError) {
                switch try SecAggBodyCodec.decodeServer(stage: stage, body: frame.body, round: frame.round) {
                case let .advertiseKeys(p):
                    clients.machines[c] = try SecAggClient(index: c, parameters: p, secrets: ClientSecrets.generate())
                    answer = .keys(try clients.machines[c]!.advertiseKeys())
                case let .shareKeys(keys): answer = .shares(try clients.machines[c]!.shareKeys(keys))
                case let .maskInput(shares): answer = .masked(try clients.machines[c]!.maskInput(shares: shares, input: clients.inputs[c]!))
                case let .unmask(request): answer = .unmasked(try clients.machines[c]!.unmask(request))
                }
            } catch {
                // An honest client that cannot answer (too few neighbours left) stays silent.
                clients.refusals[c] = error
                continue
            }
            var (replyStage, body) = SecAggBodyCodec.encode(answer)
            if clients.garbage.contains(c) { body = [1, 2, 3] }
            let reply = SecAggReplyMessage(round: frame.round, clientIndex: c, token: m.token(of: c), stage: replyStage.rawValue, body: body)
            queue += m.receive(.secAggReply(reply), from: peer, now: now)
        }
        return all
    }

    func outcome(_ actions: [Machine.Action]) -> RoundOutcome? {
        for a in actions { if case let .aggregate(o) = a { return o } }
        return nil
    }

    func clients(_ n: Int) -> Clients {
        var c = Clients()
        for i in 0..<n { c.inputs[i] = Self.input(i) }
        return c
    }

    /// The mean the plain modular sum of `survivors`' quantised inputs gives: what SecAgg must
    /// reproduce bit for bit.
    func plainMean(_ survivors: [Int]) -> [Float] {
        var sum = [UInt32](repeating: 0, count: Self.parameterCount + 1)
        for c in survivors { for (j, v) in Self.input(c).enumerated() { sum[j] = sum[j] &+ v } }
        return try! WeightedInput.mean(ofDequantisedSum: Self.quantiser().dequantiseSum(sum, clients: survivors.count), clippingRange: 1).mean
    }

    @Test func aRoundWithEveryClientAggregatesTheExactWeightedMeanWithoutAnUpdateInClear() throws {
        var m = makeMachine()
        var c = clients(8)
        let actions = register(&m, &c, count: 8)
        #expect(!actions.contains { if case .send(_, .update) = $0 { true } else { false } })
        let o = try #require(outcome(actions))
        #expect(o.updates.isEmpty)
        let report = try #require(o.secAgg)
        guard case let .aggregated(mean, total, survivors) = report.verdict else { Issue.record("\(report.verdict)"); return }
        #expect(survivors == Array(0..<8))
        #expect(mean == plainMean(Array(0..<8)))
        // Dequantised, the mean is within a few quantisation steps of the real weighted mean.
        let weights = (0..<8).map(Self.weight), wsum = weights.reduce(0, +)
        for j in 0..<Self.parameterCount {
            let real = (0..<8).reduce(0.0) { $0 + weights[$1] * Double(Self.delta($1)[j]) } / wsum
            #expect(abs(Double(mean[j]) - real) < 1e-3)
        }
        #expect(abs(total - wsum) < 1e-3)
        #expect(report.survivors == [8, 8, 8, 8])
        #expect(report.degree == 4 && report.threshold == 3 && report.participants == 8)
        #expect(report.bytesUp.allSatisfy { $0 > 0 } && report.bytesDown.allSatisfy { $0 > 0 })
        #expect(o.traffic.up.count == 8)
    }

    @Test(arguments: [Death.beforeKeys, .beforeSharing, .beforeMasking, .beforeUnmasking])
    func aClientLostAtAnyStageLeavesTheExactSumOfTheOthers(death: Death) throws {
        var m = makeMachine()
        var c = clients(8)
        c.deaths[2] = death
        let o = try #require(outcome(register(&m, &c, count: 8)))
        let report = try #require(o.secAgg)
        guard case let .aggregated(mean, _, survivors) = report.verdict else { Issue.record("\(report.verdict)"); return }
        // Lost before unmasking, their masked inputs are in the sum: only the unmasking is theirs to miss.
        let expected = death == .beforeUnmasking ? Array(0..<8) : [0, 1, 3, 4, 5, 6, 7]
        #expect(survivors == expected)
        #expect(mean == plainMean(expected))
        #expect(c.refusals.isEmpty)
        #expect(o.lost == [2])  // lost mid-round at any stage
    }

    @Test func silentClientsAreLeftBehindWhenTheStageDeadlinePasses() throws {
        var m = makeMachine()
        var c = clients(8)
        c.reportLost = false
        c.deaths[3] = .beforeMasking
        let early = register(&m, &c, count: 8, now: 1)
        #expect(outcome(early) == nil)  // stage 3 waits for client 3
        #expect(pump(&m, &c, m.tick(now: 5), now: 5).allSatisfy { if case .aggregate = $0 { false } else { true } })
        let o = try #require(outcome(pump(&m, &c, m.tick(now: 12), now: 12)))
        guard case let .aggregated(mean, _, survivors) = o.secAgg!.verdict else { Issue.record("\(o.secAgg!.verdict)"); return }
        #expect(survivors == [0, 1, 2, 4, 5, 6, 7])
        #expect(mean == plainMean(survivors))
        #expect(o.secAgg!.survivors == [8, 8, 7, 7])
    }

    @Test func fewerThanTSurvivorsFailTheRoundWithTheReasonAndTheRunGoesOn() throws {
        var m = makeMachine(rounds: 2)
        var c = clients(8)
        for i in 0..<6 { c.deaths[i] = .beforeSharing }
        let o = try #require(outcome(register(&m, &c, count: 8)))
        guard case let .failed(reason) = o.secAgg!.verdict else { Issue.record("\(o.secAgg!.verdict)"); return }
        #expect(reason.contains("threshold is 3"))
        // The round is over (the model is kept by the merge); the next one starts without the lost.
        let next = m.roundCompleted(parameters: [0, 0, 0, 0], now: 2)
        #expect(next.contains { if case let .roundStarted(round, sampled) = $0 { round == 2 && sampled == [6, 7] } else { false } })
    }

    @Test func anUpdateInClearIsRefusedAndItsSenderLeavesTheSecureSum() throws {
        var m = makeMachine()
        var c = clients(8)
        c.deaths[4] = .beforeKeys  // sends an UPDATE in clear instead of keys
        c.reportLost = false
        var actions = register(&m, &c, count: 8)
        let clear = UpdateMessage(round: 1, clientIndex: 4, token: m.token(of: 4), samples: 5, metrics: [:], delta: [1, 2, 3, 4])
        actions += pump(&m, &c, m.receive(.update(clear), from: "p4", now: 1), now: 1)
        let o = try #require(outcome(actions))
        #expect(o.rejected.map(\.clientIndex) == [4] && o.rejected.first?.reason == .inClearUnderSecAgg)
        guard case let .aggregated(mean, _, survivors) = o.secAgg!.verdict else { Issue.record("\(o.secAgg!.verdict)"); return }
        #expect(!survivors.contains(4) && mean == plainMean(survivors))
    }

    @Test func aBodyThatDoesNotDecodeDropsItsSenderNotTheServer() throws {
        var m = makeMachine()
        var c = clients(8)
        c.garbage = [6]
        let o = try #require(outcome(register(&m, &c, count: 8)))
        #expect(o.secAgg!.dropped[6] != nil)
        guard case let .aggregated(mean, _, survivors) = o.secAgg!.verdict else { Issue.record("\(o.secAgg!.verdict)"); return }
        #expect(survivors == [0, 1, 2, 3, 4, 5, 7] && mean == plainMean(survivors))
    }

    @Test func parametersThatCannotWorkFailTheRoundBeforeAnyoneTrains() throws {
        var m = makeMachine(clients: 1, degree: 2, threshold: 2)
        var c = clients(1)
        let actions = register(&m, &c, count: 1)
        #expect(!actions.contains { if case .send(_, .train) = $0 { true } else { false } })
        let o = try #require(outcome(actions))
        guard case let .failed(reason) = o.secAgg!.verdict else { Issue.record("\(o.secAgg!.verdict)"); return }
        #expect(reason.contains("at least 2 participants"))
    }

    @Test func aReplyOutsideASecureRoundIsIgnoredWithTheReason() {
        var m = makeMachine(clients: 2, degree: 2, threshold: 2)
        _ = m.receive(.hello(HelloMessage(processName: "p0", claims: [ClientClaim(index: 0, token: 0)])), from: "p0", now: 1)
        let reply = SecAggReplyMessage(round: 1, clientIndex: 0, token: m.token(of: 0), stage: 1, body: [])
        let actions = m.receive(.secAggReply(reply), from: "p0", now: 1)
        #expect(actions.contains { if case .ignored(_, .secAggNotRunning(client: 0, round: 1)) = $0 { true } else { false } })
    }
}
