import Testing
import AviaryProtocol

/// The two hooks the simulated clock uses: clients excluded from sampling (offline, busy) and
/// sampled clients not asked to train (predicted stragglers under "drop").
@Suite struct ServerStateMachineSystemTests {
    typealias Machine = ServerStateMachine<String>

    func makeMachine(notAsked: (@Sendable ([Int]) -> [Int])? = nil) -> Machine {
        var configuration = Machine.Configuration(
            clients: 4, minClientsToStart: 4, clientsPerRound: 4, rounds: 2, parameterCount: 2, roundTimeout: 100,
            registrationTimeout: 30, samplingSeed: 7, tokenSeed: 99, runSpec: Array("{}".utf8))
        configuration.notAsked = notAsked
        var m = Machine(configuration: configuration)
        _ = m.start(parameters: [0, 0], now: 0)
        return m
    }

    func trained(_ actions: [Machine.Action]) -> [Int] {
        actions.flatMap { a -> [Int] in
            if case let .send(_, .train(t)) = a { t.clients } else { [] }
        }
    }

    @Test func excludedClientsAreNotSampledAndNotAskedClientsGetNoTrain() {
        var m = makeMachine(notAsked: { sampled in sampled.filter { $0 == 3 } })
        m.excluded = [1]
        let actions = m.receive(.hello(HelloMessage(processName: "p", claims: (0..<4).map { ClientClaim(index: $0, token: 0) })),
                                from: "p", now: 1)
        let started = actions.compactMap { a -> [Int]? in if case let .roundStarted(_, s) = a { s } else { nil } }
        #expect(started == [[0, 2, 3]])
        #expect(trained(actions) == [0, 2])
        #expect(m.roundProgress?.answered == 1)  // the client not asked counts as settled
    }

    /// Buffered mode's batch: only the listed clients are candidates (registered, responsive,
    /// not excluded), as an `excluded` set of everyone else would give; none listed is an empty
    /// round, not the end of the run.
    @Test func restrictedToMakesOnlyTheListedClientsCandidates() {
        var m = makeMachine()
        m.restrictedTo = [3, 1, 7]
        m.excluded = [3]
        let actions = m.receive(.hello(HelloMessage(processName: "p", claims: (0..<4).map { ClientClaim(index: $0, token: 0) })),
                                from: "p", now: 1)
        let started = actions.compactMap { a -> [Int]? in if case let .roundStarted(_, s) = a { s } else { nil } }
        #expect(started == [[1]] && trained(actions) == [1])
        var empty = makeMachine()
        empty.restrictedTo = []
        let none = empty.receive(.hello(HelloMessage(processName: "p", claims: (0..<4).map { ClientClaim(index: $0, token: 0) })),
                                 from: "p", now: 1)
        #expect(none.contains { if case .aggregate = $0 { true } else { false } } && !empty.isFinished)
    }

    @Test func aRoundWhoseSampledClientsAreAllNotAskedClosesAtOnce() {
        var m = makeMachine(notAsked: { $0 })
        let actions = m.receive(.hello(HelloMessage(processName: "p", claims: (0..<4).map { ClientClaim(index: $0, token: 0) })),
                                from: "p", now: 1)
        #expect(trained(actions).isEmpty)
        let outcome = actions.compactMap { a -> RoundOutcome? in if case let .aggregate(o) = a { o } else { nil } }.first
        #expect(outcome?.sampled == [0, 1, 2, 3] && outcome?.updates.isEmpty == true && outcome?.timedOut.isEmpty == true)
    }

    @Test func aRoundWithEveryClientOfflineIsEmptyNotTheEndOfTheRun() {
        var m = makeMachine()
        m.excluded = [0, 1, 2, 3]
        let actions = m.receive(.hello(HelloMessage(processName: "p", claims: (0..<4).map { ClientClaim(index: $0, token: 0) })),
                                from: "p", now: 1)
        let outcome = actions.compactMap { a -> RoundOutcome? in if case let .aggregate(o) = a { o } else { nil } }.first
        #expect(outcome?.round == 1 && outcome?.sampled == [] && !m.isFinished)
        m.excluded = []
        let next = m.roundCompleted(parameters: [0, 0], now: 2)
        #expect(trained(next) == [0, 1, 2, 3])
    }
}
