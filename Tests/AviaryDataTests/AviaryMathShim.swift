import AviaryMath

/// Test access to AviaryMath's streams without every test file importing it.
enum AviaryMathShim {
    static func stream(seed: UInt64) -> RandomStream { RandomStream(seed: seed, purpose: .other, index: 0) }
}
