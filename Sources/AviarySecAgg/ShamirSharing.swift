/// One participant's share of a 32-byte secret: its x-coordinate and one field element per limb.
public struct ShamirShare: Sendable, Equatable {
    /// The evaluation point, never 0 (the secret sits at 0): participant index + 1.
    public var x: UInt64
    /// f_l(x) for each of the secret's 8 limbs.
    public var limbs: [UInt64]

    public init(x: UInt64, limbs: [UInt64]) { self.x = x; self.limbs = limbs }

    /// Wire size: x as UInt32 little-endian, then 8 limbs as UInt64 little-endian.
    public static let byteCount = 4 + 8 * ShamirSharing.limbCount

    public var bytes: [UInt8] {
        var out = [UInt8](); out.reserveCapacity(Self.byteCount)
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: x).littleEndian) { out.append(contentsOf: $0) }
        for limb in limbs { withUnsafeBytes(of: limb.littleEndian) { out.append(contentsOf: $0) } }
        return out
    }

    public init<Bytes: Collection<UInt8>>(bytes: Bytes) throws(SecAggError) {
        guard bytes.count == Self.byteCount else {
            throw .truncated(what: "a Shamir share", needed: Self.byteCount, have: bytes.count)
        }
        let b = Array(bytes)
        func word(_ at: Int, _ width: Int) -> UInt64 {
            var v: UInt64 = 0
            for k in 0..<width { v |= UInt64(b[at + k]) << (8 * UInt64(k)) }
            return v
        }
        x = word(0, 4)
        guard x != 0 else { throw .invalidShareIndex(0) }
        limbs = (0..<ShamirSharing.limbCount).map { word(4 + 8 * $0, 8) }
        for (i, limb) in limbs.enumerated() where limb >= PrimeField.modulus { throw .limbOutOfField(index: i) }
    }
}

/// Shamir t-of-n secret sharing of 32-byte secrets (keys, seeds) over GF(2^61 − 1).
///
/// A secret is split into 8 little-endian 32-bit limbs; each limb is the constant term of its
/// own random polynomial of degree t − 1 with independent uniform coefficients. Any t shares
/// give every limb back by Lagrange interpolation at 0; any t − 1 shares are, limb by limb, as
/// likely under every secret (perfect secrecy), and the limbs' polynomials are independent, so
/// t − 1 shares say nothing about the secret as a whole.
public enum ShamirSharing {
    public static let secretByteCount = 32
    public static let limbCount = 8
    /// x-coordinates are participant index + 1 and travel as UInt32.
    public static let maxParticipantIndex = Int(Int32.max) - 1

    /// Splits `secret` into one share per participant index (x = index + 1).
    /// - Throws: a wrong secret length, a threshold outside 1...participants.count, an index
    ///   outside 0..<2^31 − 1, or an index named twice.
    public static func split<G: RandomNumberGenerator>(
        secret: [UInt8], threshold: Int, participants: [Int], using generator: inout G
    ) throws(SecAggError) -> [ShamirShare] {
        guard secret.count == secretByteCount else { throw .wrongSecretLength(expected: secretByteCount, got: secret.count) }
        guard threshold >= 1, threshold <= participants.count else {
            throw .invalidThreshold(threshold: threshold, shares: participants.count)
        }
        var seen = Set<Int>()
        for p in participants {
            guard p >= 0, p <= maxParticipantIndex else { throw .invalidShareIndex(p) }
            guard seen.insert(p).inserted else { throw .duplicateShareIndex(UInt64(p) + 1) }
        }
        // coefficients[l] = [a_0 = limb l, a_1, …, a_{t−1}].
        var coefficients: [[UInt64]] = []
        for l in 0..<limbCount {
            var limb: UInt64 = 0
            for k in 0..<4 { limb |= UInt64(secret[4 * l + k]) << (8 * UInt64(k)) }
            var poly = [limb]
            for _ in 1..<threshold { poly.append(PrimeField.random(using: &generator)) }
            coefficients.append(poly)
        }
        return participants.map { p in
            let x = UInt64(p) + 1
            let limbs = coefficients.map { poly in
                // Horner's rule from the highest coefficient down.
                poly.reversed().reduce(UInt64(0)) { PrimeField.add(PrimeField.multiply($0, x), $1) }
            }
            return ShamirShare(x: x, limbs: limbs)
        }
    }

    /// The secret from at least `threshold` shares (the first `threshold` distinct ones are used).
    /// - Throws: fewer than `threshold` shares, two shares at one x, a malformed share, or
    ///   shares whose interpolation leaves the 32-bit limb range (shares of different secrets or
    ///   a corrupted share: caught unless every limb happens to land below 2^32).
    public static func reconstruct(shares: [ShamirShare], threshold: Int) throws(SecAggError) -> [UInt8] {
        guard threshold >= 1 else { throw .invalidThreshold(threshold: threshold, shares: shares.count) }
        guard shares.count >= threshold else { throw .tooFewShares(have: shares.count, threshold: threshold) }
        var seen = Set<UInt64>()
        for share in shares {
            guard share.x != 0, share.x < PrimeField.modulus else { throw .invalidShareIndex(Int(truncatingIfNeeded: share.x)) }
            guard seen.insert(share.x).inserted else { throw .duplicateShareIndex(share.x) }
            guard share.limbs.count == limbCount else { throw .shareLengthMismatch(expected: limbCount, got: share.limbs.count) }
            for (i, limb) in share.limbs.enumerated() where limb >= PrimeField.modulus { throw .limbOutOfField(index: i) }
        }
        let used = Array(shares.prefix(threshold))
        // Lagrange basis at 0: λ_j = Π_{m≠j} x_m / (x_m − x_j).
        let lambdas: [UInt64] = used.indices.map { j in
            var numerator: UInt64 = 1, denominator: UInt64 = 1
            for m in used.indices where m != j {
                numerator = PrimeField.multiply(numerator, used[m].x)
                denominator = PrimeField.multiply(denominator, PrimeField.subtract(used[m].x, used[j].x))
            }
            return PrimeField.multiply(numerator, PrimeField.inverse(denominator))
        }
        var secret = [UInt8](); secret.reserveCapacity(secretByteCount)
        for l in 0..<limbCount {
            var limb: UInt64 = 0
            for j in used.indices { limb = PrimeField.add(limb, PrimeField.multiply(lambdas[j], used[j].limbs[l])) }
            guard limb <= UInt64(UInt32.max) else { throw .inconsistentShares }
            for k in 0..<4 { secret.append(UInt8(truncatingIfNeeded: limb >> (8 * UInt64(k)))) }
        }
        return secret
    }
}
