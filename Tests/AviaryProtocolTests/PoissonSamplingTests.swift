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

/// Central DP with fixed-size sampling of a subset: m drawn of all N, the unavailable left out,
/// so a client's inclusion probability stays m / N when others are gone (docs/PRIVACY.md).
@Suite struct SampleOverAllClientsTests {
    @Test func inclusionProbabilityStaysMOverNWhenHalfAreGone() {
        let clients = 200, m = 20, rounds = 2_000
        let odd = Array(stride(from: 1, to: clients, by: 2))
        var overAll = 0, fromAvailable = 0
        for round in 1...rounds {
            let s = ServerStateMachine<Int>.sampleOverAll(available: odd, clients: clients, count: m, seed: 11, round: round)
            #expect(s == s.sorted() && s.allSatisfy { $0 % 2 == 1 })
            overAll += s.filter { $0 == 7 }.count
            fromAvailable += ServerStateMachine<Int>.sample(from: odd, count: m, seed: 11, round: round).filter { $0 == 7 }.count
        }
        // Client 7's rate: m / N = 0.1 over all (200 expected in 2,000 rounds, std ≈ 13), against
        // m / available = 0.2 when drawn from the 100 available (400 expected).
        #expect(abs(overAll - 200) < 60, "\(overAll)")
        #expect(abs(fromAvailable - 400) < 80, "\(fromAvailable)")
    }

    @Test func isTheFullDrawRestrictedToTheAvailable() {
        let all = ServerStateMachine<Int>.sample(from: Array(0..<50), count: 10, seed: 5, round: 3)
        let available = Array(0..<50).filter { $0 % 3 != 0 }
        #expect(ServerStateMachine<Int>.sampleOverAll(available: available, clients: 50, count: 10, seed: 5, round: 3)
                == all.filter { $0 % 3 != 0 })
        #expect(ServerStateMachine<Int>.sampleOverAll(available: Array(0..<50), clients: 50, count: 10, seed: 5, round: 3) == all)
        #expect(ServerStateMachine<Int>.sampleOverAll(available: [], clients: 50, count: 10, seed: 5, round: 3).isEmpty)
    }
}
