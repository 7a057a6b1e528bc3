import Testing
@testable import AviarySecAgg
import AviaryMath

/// The stage state machines end to end in memory: the unmasked sum must equal, bit for bit, the
/// plain modular sum of the surviving clients' quantised inputs, whoever dies when.
@Suite struct SecAggRoundTests {
    func parameters(n: Int, k: Int, t: Int, length: Int = 40, modulusBits: Int = 24, round: Int = 3) throws -> SecAggParameters {
        let q = try FixedPointQuantiser(clippingRange: 1, quantisationBits: 12, modulusBits: modulusBits)
        return try SecAggParameters(round: round, participants: (0..<n).map { 3 * $0 + 1 }, degree: k, threshold: t,
                                    graphSeed: 99, quantiser: q, vectorLength: length)
    }

    func inputs(_ p: SecAggParameters) -> [Int: [UInt32]] {
        var g = RandomStream(seed: 5, purpose: .quantisation)
        var out: [Int: [UInt32]] = [:]
        for c in p.participants { out[c] = (0..<p.vectorLength).map { _ in UInt32(g.nextInt(below: Int(p.quantiser.levels) + 1)) } }
        return out
    }

    func plainSum(_ inputs: [Int: [UInt32]], of clients: [Int], bits: Int) -> [UInt32] {
        var sum = [UInt32](repeating: 0, count: inputs.first!.value.count)
        for c in clients { RingArithmetic.add(inputs[c]!, into: &sum, bits: bits) }
        return sum
    }

    @Test func withoutDropoutsTheSumIsThePlainSum() throws {
        for (n, k, t) in [(10, 4, 3), (5, 10, 3), (16, 6, 4)] {
            let p = try parameters(n: n, k: k, t: t)
            let x = inputs(p)
            var driver = try RoundDriver.fixed(parameters: p, inputs: x)
            let r = try driver.run().get()
            #expect(r.survivors == p.participants)
            #expect(r.sum == plainSum(x, of: p.participants, bits: 24))
            #expect(r.survivorsPerStage == [n, n, n, n])
            #expect(driver.refusals.isEmpty && driver.dropped.isEmpty)
        }
    }

    @Test(arguments: [RoundDriver.Death.beforeAdvertising, .beforeSharing, .beforeMasking, .beforeUnmasking])
    func clientsDyingAtAStageLeaveTheExactSumOfSurvivors(death: RoundDriver.Death) throws {
        let p = try parameters(n: 12, k: 6, t: 4)
        let x = inputs(p)
        var driver = try RoundDriver.fixed(parameters: p, inputs: x)
        let dead = [p.participants[2], p.participants[7]]
        for c in dead { driver.deaths[c] = death }
        let r = try driver.run().get()
        // Clients that die before unmasking already sent their masked input: they are in the sum.
        let inSum = death == .beforeUnmasking ? p.participants : p.participants.filter { !dead.contains($0) }
        #expect(r.survivors == inSum)
        #expect(r.sum == plainSum(x, of: inSum, bits: 24))
        let stageOfDeath = [RoundDriver.Death.beforeAdvertising, .beforeSharing, .beforeMasking, .beforeUnmasking].firstIndex(of: death)!
        #expect(r.survivorsPerStage == (0..<4).map { $0 >= stageOfDeath ? 10 : 12 })
    }

    @Test func dropoutsAtEveryStageInOneRound() throws {
        // k = 10, t = 6: a neighbourhood that loses all four still holds 6 shares of each secret.
        let p = try parameters(n: 20, k: 10, t: 6, modulusBits: 32)
        let x = inputs(p)
        var driver = try RoundDriver.fixed(parameters: p, inputs: x)
        let deaths: [RoundDriver.Death] = [.beforeAdvertising, .beforeSharing, .beforeMasking, .beforeUnmasking]
        for (i, d) in deaths.enumerated() { driver.deaths[p.participants[4 * i + 1]] = d }
        let r = try driver.run().get()
        let gone = [p.participants[1], p.participants[5], p.participants[9]]
        #expect(r.survivors == p.participants.filter { !gone.contains($0) })
        #expect(r.sum == plainSum(x, of: r.survivors, bits: 32))
        #expect(r.survivorsPerStage == [19, 18, 17, 16])
    }

    /// Stage 3 through reply bodies (`MaskedInputBody`, as a run's clients mask): the server
    /// decodes the very bytes the array path would have encoded, so the masked vectors equal
    /// the array path's for the same secrets, and the sum is the plain sum, with a client lost
    /// before masking (its neighbours' masks removed) and in a 24- and a 32-bit ring.
    @Test func maskingInTheReplyBodyIsMaskingTheArray() throws {
        for bits in [24, 32] {
            let p = try parameters(n: 12, k: 6, t: 4, length: 4099, modulusBits: bits)
            let x = inputs(p)
            var arrays = try RoundDriver.fixed(parameters: p, inputs: x), bodies = try RoundDriver.fixed(parameters: p, inputs: x)
            bodies.throughBodies = true
            arrays.deaths[p.participants[3]] = .beforeMasking
            bodies.deaths[p.participants[3]] = .beforeMasking
            let a = try arrays.run().get(), b = try bodies.run().get()
            #expect(bodies.maskedSeen == arrays.maskedSeen && bodies.maskedSeen.count == 11)
            #expect(b == a)
            #expect(b.sum == plainSum(x, of: b.survivors, bits: bits))
            // The body is byte for byte what the codec writes for the masked words.
            let c = p.participants[0]
            #expect(MaskedInputBody(words: x[c]!).bytes == SecAggBodyCodec.encode(.masked(MaskedInput(client: c, values: x[c]!))).body)
        }
    }

    /// Seeds derived between stages 2 and 3 for every neighbour with keys are the ones stage 3
    /// would derive: the same masked vectors and sum, also when neighbours advertised keys but
    /// never shared (their prepared seeds go unused) or died before masking; and the call is
    /// refused outside stage 2's end.
    @Test func preparedMaskSeedsMaskAsStageThreeWould() throws {
        // k = 10, t = 6 (as dropoutsAtEveryStageInOneRound): three losses leave every secret 6 shares.
        let p = try parameters(n: 20, k: 10, t: 6, modulusBits: 32)
        let x = inputs(p)
        var plain = try RoundDriver.fixed(parameters: p, inputs: x), prepared = try RoundDriver.fixed(parameters: p, inputs: x)
        prepared.prepareMaskSeeds = true
        for d in [(1, RoundDriver.Death.beforeSharing), (5, .beforeSharing), (9, .beforeMasking)] {
            plain.deaths[p.participants[d.0]] = d.1
            prepared.deaths[p.participants[d.0]] = d.1
        }
        let a = try plain.run().get(), b = try prepared.run().get()
        #expect(prepared.maskedSeen == plain.maskedSeen && prepared.maskedSeen.count == 17)
        #expect(b == a && b.sum == plainSum(x, of: b.survivors, bits: 32))
        var early = try SecAggClient(index: p.participants[0], parameters: p, secrets: RoundDriver.secrets(for: p.participants[0], round: p.round))
        #expect(throws: SecAggError.unexpectedStage(expected: "advertise-keys", got: "prepare-mask-seeds")) { try early.prepareMaskSeeds() }
    }

    @Test func fewerThanThresholdSurvivorsFailTheRoundWithTheReason() throws {
        let p = try parameters(n: 6, k: 4, t: 3)
        for (death, stage) in [(RoundDriver.Death.beforeAdvertising, "advertise-keys"), (.beforeMasking, "masked-input"), (.beforeUnmasking, "unmasking")] {
            var driver = try RoundDriver.fixed(parameters: p, inputs: inputs(p))
            for c in p.participants.prefix(4) { driver.deaths[c] = death }
            let result = driver.run()
            #expect(throws: SecAggError.tooFewSurvivors(stage: stage, have: 2, threshold: 3)) { try result.get() }
            #expect(driver.server.stage == .failed)
        }
    }

    /// A survivor whose neighbours mostly die before unmasking cannot have its self mask removed:
    /// the round fails naming it rather than returning a wrong sum.
    @Test func aSecretWithFewerThanThresholdSharesFailsTheRound() throws {
        let p = try parameters(n: 10, k: 4, t: 3)
        let victim = p.participants[0]
        let near = p.graph.neighbours(of: victim)
        var driver = try RoundDriver.fixed(parameters: p, inputs: inputs(p))
        driver.deaths[near[0]] = .beforeUnmasking
        driver.deaths[near[1]] = .beforeUnmasking
        let result = driver.run()
        #expect(throws: SecAggError.cannotReconstruct(client: victim, secret: "self-mask seed", shares: 2, threshold: 3)) { try result.get() }
    }

    @Test func anHonestClientRefusesToRevealBothSharesOfOneClient() throws {
        let p = try parameters(n: 8, k: 4, t: 3)
        var driver = try RoundDriver.fixed(parameters: p, inputs: inputs(p))
        let asked = p.participants[3]
        var named = 0
        // A curious server claims a survivor also dropped, hoping for both of its shares.
        driver.tamper = { to, message in
            guard to == asked, case .unmask(let r) = message, let victim = r.survivors.first else { return message }
            named = victim
            return .unmask(UnmaskRequest(survivors: r.survivors, dropped: r.dropped + [victim]))
        }
        _ = driver.run()
        #expect(driver.refusals[asked] == .doubleRequest(client: named))
    }

    @Test func aSecondRequestCannotCollectTheOtherShare() throws {
        let p = try parameters(n: 6, k: 4, t: 3)
        // The client does not answer inside the round; afterwards it is asked by hand, holding
        // its neighbours' shares as it did at the unmasking stage.
        let c = p.participants[2]
        var driver = try RoundDriver.fixed(parameters: p, inputs: inputs(p))
        driver.deaths[c] = .beforeUnmasking
        _ = try driver.run().get()
        var held = driver.clients[c]!
        let near = held.heldOwners
        #expect(near == p.graph.neighbours(of: c))
        let first = try held.unmask(UnmaskRequest(survivors: near, dropped: []))
        #expect(first.selfMaskShares.map(\.owner) == near && first.maskKeyShares.isEmpty)
        #expect(try held.unmask(UnmaskRequest(survivors: near, dropped: [])) == first)  // a lost reply, asked again
        #expect(throws: SecAggError.doubleRequest(client: near[0])) { try held.unmask(UnmaskRequest(survivors: [], dropped: [near[0]])) }
        #expect(throws: SecAggError.notANeighbour(client: 1000, of: c)) { try held.unmask(UnmaskRequest(survivors: [1000], dropped: [])) }
    }
}
