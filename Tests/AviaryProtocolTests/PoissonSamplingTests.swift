import Testing
@testable import AviaryProtocol

/// `[server] sampling = "poisson"`: each client independently with probability q, from the
/// round's sampling stream, whoever else is available.
@Suite struct PoissonSamplingTests {
    @Test func includesEachClientWithProbabilityQ() {
        let clients = 1_000, q = 0.1
        var total = 0
        var sizes = Set<Int>()
        for round in 1...200 {
            let s = ServerStateMachine<Int>.poissonSample(from: Array(0..<clients), clients: clients, rate: q, seed: 7, round: round)
            #expect(s == s.sorted() && Set(s).count == s.count)
            total += s.count
            sizes.insert(s.count)
        }
        // 200 rounds × 1,000 clients × 0.1 = 20,000 expected; std √(200,000 · 0.09) ≈ 134.
        #expect(abs(total - 20_000) < 600, "\(total)")
        #expect(sizes.count > 5, "round sizes vary: \(sizes.sorted())")
    }

    @Test func deterministicAndIndependentOfWhoElseIsAvailable() {
        let all = ServerStateMachine<Int>.poissonSample(from: Array(0..<100), clients: 100, rate: 0.3, seed: 3, round: 4)
        #expect(all == ServerStateMachine<Int>.poissonSample(from: Array(0..<100), clients: 100, rate: 0.3, seed: 3, round: 4))
        let odd = Array(stride(from: 1, to: 100, by: 2))
        let some = ServerStateMachine<Int>.poissonSample(from: odd, clients: 100, rate: 0.3, seed: 3, round: 4)
        #expect(some == all.filter { $0 % 2 == 1 })
        #expect(ServerStateMachine<Int>.poissonSample(from: Array(0..<100), clients: 100, rate: 0, seed: 3, round: 4).isEmpty)
        #expect(ServerStateMachine<Int>.poissonSample(from: Array(0..<100), clients: 100, rate: 1, seed: 3, round: 4) == Array(0..<100))
    }
}
