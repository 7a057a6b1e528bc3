/// Arithmetic in GF(p) for the Mersenne prime p = 2^61 − 1, the field Shamir sharing works in.
///
/// Why this field: every 32-bit limb of a secret is an element as it is (no encoding loss), a
/// product of two elements fits one 128-bit multiply and reduces with a shift and an add (no
/// division), and the field is far larger than any x-coordinate (client index + 1) we use.
public enum PrimeField {
    /// 2^61 − 1.
    public static let modulus: UInt64 = (1 << 61) - 1

    @inlinable
    public static func add(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let s = a + b  // < 2^62: no overflow
        return s >= modulus ? s - modulus : s
    }

    @inlinable
    public static func subtract(_ a: UInt64, _ b: UInt64) -> UInt64 {
        a >= b ? a - b : a + modulus - b
    }

    /// a·b mod p: with 2^61 ≡ 1, the 122-bit product's high part folds onto its low 61 bits.
    @inlinable
    public static func multiply(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (high, low) = a.multipliedFullWidth(by: b)
        let folded = (low & modulus) + ((low >> 61) | (high << 3))
        return folded >= modulus ? folded - modulus : folded
    }

    /// a^e mod p by square-and-multiply.
    public static func power(_ a: UInt64, _ e: UInt64) -> UInt64 {
        var result: UInt64 = 1, base = a % modulus, e = e
        while e > 0 {
            if e & 1 == 1 { result = multiply(result, base) }
            base = multiply(base, base)
            e >>= 1
        }
        return result
    }

    /// a^(p−2) = a^−1 (Fermat); a must be non-zero.
    public static func inverse(_ a: UInt64) -> UInt64 {
        precondition(a % modulus != 0, "zero has no inverse")
        return power(a, modulus - 2)
    }

    /// A uniform element of GF(p): 61 random bits, the one value ≥ p rejected.
    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> UInt64 {
        while true {
            let candidate = generator.next() >> 3
            if candidate < modulus { return candidate }
        }
    }
}
