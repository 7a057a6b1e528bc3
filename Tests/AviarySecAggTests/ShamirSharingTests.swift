import Testing
@testable import AviarySecAgg
import AviaryMath

@Suite struct PrimeFieldTests {
    @Test func multiplicationReducesModuloTheMersennePrime() {
        let p = PrimeField.modulus
        #expect(PrimeField.multiply(p - 1, p - 1) == 1)  // (−1)² = 1
        #expect(PrimeField.multiply(1 << 60, 2) == 1)     // 2^61 ≡ 1
        for a: UInt64 in [1, 2, 12345, p - 2, 1 << 40] {
            #expect(PrimeField.multiply(a, PrimeField.inverse(a)) == 1)
        }
        #expect(PrimeField.subtract(3, 5) == p - 2)
        #expect(PrimeField.add(p - 1, 2) == 1)
    }
}

@Suite struct ShamirSharingTests {
    func secret(_ seed: UInt8) -> [UInt8] { (0..<32).map { UInt8(truncatingIfNeeded: Int($0) &* 37 &+ Int(seed)) } }

    func subsets(of n: Int, size: Int) -> [[Int]] {
        guard size > 0 else { return [[]] }
        guard n >= size else { return [] }
        return subsets(of: n - 1, size: size) + subsets(of: n - 1, size: size - 1).map { $0 + [n - 1] }
    }

    @Test func everySubsetOfThresholdSharesReconstructsTheSecret() throws {
        var g = RandomStream(seed: 1)
        let s = secret(7)
        let shares = try ShamirSharing.split(secret: s, threshold: 3, participants: [4, 9, 11, 20, 31], using: &g)
        #expect(shares.map(\.x) == [5, 10, 12, 21, 32])
        for subset in subsets(of: 5, size: 3) + subsets(of: 5, size: 4) + subsets(of: 5, size: 5) {
            #expect(try ShamirSharing.reconstruct(shares: subset.map { shares[$0] }, threshold: 3) == s)
        }
    }

    @Test func extremeSecretsAndThresholdOneRoundTrip() throws {
        var g = RandomStream(seed: 2)
        for s in [[UInt8](repeating: 0, count: 32), [UInt8](repeating: 0xFF, count: 32)] {
            let shares = try ShamirSharing.split(secret: s, threshold: 1, participants: [0, 1], using: &g)
            #expect(try ShamirSharing.reconstruct(shares: [shares[1]], threshold: 1) == s)
            let many = try ShamirSharing.split(secret: s, threshold: 7, participants: Array(0..<7), using: &g)
            #expect(try ShamirSharing.reconstruct(shares: many.reversed(), threshold: 7) == s)
        }
    }

    /// t − 1 shares are consistent with every secret: for any candidate, the degree-(t−1)
    /// polynomial through (0, candidate) and the t − 1 shares yields a t-th share, and those t
    /// shares reconstruct the candidate. So the t − 1 shares rule no secret out.
    @Test func fewerThanThresholdSharesAreConsistentWithEverySecret() throws {
        var g = RandomStream(seed: 3)
        let real = secret(1), t = 4
        let shares = try ShamirSharing.split(secret: real, threshold: t, participants: [0, 1, 2, 3, 4], using: &g)
        let coalition = Array(shares.prefix(t - 1))
        #expect(throws: SecAggError.tooFewShares(have: 3, threshold: 4)) { try ShamirSharing.reconstruct(shares: coalition, threshold: t) }
        for candidate in [secret(2), secret(200), [UInt8](repeating: 0, count: 32)] {
            // The t-th share at x = 50 that makes `candidate` the secret, by Lagrange through
            // (0, candidate limb) and the coalition's points.
            let points = [(UInt64(0), limbs(candidate))] + coalition.map { ($0.x, $0.limbs) }
            let forged = ShamirShare(x: 50, limbs: (0..<8).map { l in interpolate(points.map { ($0.0, $0.1[l]) }, at: 50) })
            #expect(try ShamirSharing.reconstruct(shares: coalition + [forged], threshold: t) == candidate)
        }
    }

    func limbs(_ s: [UInt8]) -> [UInt64] {
        (0..<8).map { l in (0..<4).reduce(UInt64(0)) { $0 | UInt64(s[4 * l + $1]) << (8 * UInt64($1)) } }
    }

    func interpolate(_ points: [(UInt64, UInt64)], at x: UInt64) -> UInt64 {
        var total: UInt64 = 0
        for (j, (xj, yj)) in points.enumerated() {
            var num: UInt64 = 1, den: UInt64 = 1
            for (m, (xm, _)) in points.enumerated() where m != j {
                num = PrimeField.multiply(num, PrimeField.subtract(x, xm))
                den = PrimeField.multiply(den, PrimeField.subtract(xj, xm))
            }
            total = PrimeField.add(total, PrimeField.multiply(yj, PrimeField.multiply(num, PrimeField.inverse(den))))
        }
        return total
    }

    @Test func badInputIsATypedError() throws {
        var g = RandomStream(seed: 4)
        let s = secret(9)
        #expect(throws: SecAggError.wrongSecretLength(expected: 32, got: 31)) {
            try ShamirSharing.split(secret: Array(s.prefix(31)), threshold: 2, participants: [0, 1], using: &g)
        }
        #expect(throws: SecAggError.invalidThreshold(threshold: 3, shares: 2)) {
            try ShamirSharing.split(secret: s, threshold: 3, participants: [0, 1], using: &g)
        }
        #expect(throws: SecAggError.invalidThreshold(threshold: 0, shares: 2)) {
            try ShamirSharing.split(secret: s, threshold: 0, participants: [0, 1], using: &g)
        }
        #expect(throws: SecAggError.duplicateShareIndex(2)) {
            try ShamirSharing.split(secret: s, threshold: 2, participants: [1, 1], using: &g)
        }
        #expect(throws: SecAggError.invalidShareIndex(-1)) {
            try ShamirSharing.split(secret: s, threshold: 1, participants: [-1], using: &g)
        }
        let shares = try ShamirSharing.split(secret: s, threshold: 2, participants: [0, 1, 2], using: &g)
        #expect(throws: SecAggError.duplicateShareIndex(1)) {
            try ShamirSharing.reconstruct(shares: [shares[0], shares[0]], threshold: 2)
        }
        #expect(throws: SecAggError.tooFewShares(have: 1, threshold: 2)) {
            try ShamirSharing.reconstruct(shares: [shares[2]], threshold: 2)
        }
        // Shares of different secrets are caught when a limb leaves 32 bits (a random
        // corruption: all but 2^−29 of the time), here certainly.
        var tampered = shares[1]; tampered.limbs[3] = PrimeField.add(tampered.limbs[3], 1 << 40)
        #expect(throws: SecAggError.inconsistentShares) {
            try ShamirSharing.reconstruct(shares: [shares[0], tampered], threshold: 2)
        }
        var outside = shares[1]; outside.limbs[5] = PrimeField.modulus
        #expect(throws: SecAggError.limbOutOfField(index: 5)) {
            try ShamirSharing.reconstruct(shares: [shares[0], outside], threshold: 2)
        }
    }

    @Test func sharesRoundTripThroughBytesAndRefuseMalformedOnes() throws {
        var g = RandomStream(seed: 5)
        let share = try ShamirSharing.split(secret: secret(3), threshold: 2, participants: [41, 2], using: &g)[0]
        #expect(share.bytes.count == ShamirShare.byteCount)
        #expect(try ShamirShare(bytes: share.bytes) == share)
        #expect(throws: SecAggError.truncated(what: "a Shamir share", needed: 68, have: 67)) { try ShamirShare(bytes: share.bytes.dropLast()) }
        var zeroX = share.bytes; zeroX[0] = 0; zeroX[1] = 0; zeroX[2] = 0; zeroX[3] = 0
        #expect(throws: SecAggError.invalidShareIndex(0)) { try ShamirShare(bytes: zeroX) }
    }
}
