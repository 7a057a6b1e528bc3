import AviaryMath

/// Feature-distribution skew: a deterministic per-client input transform (rotation, additive
/// Gaussian noise, brightness shift) applied to a client's train and test data. Zero/nil = off.
public struct FeatureSkew: Codable, Sendable, Hashable {
    /// Client rotation angle ~ U(−max, max) degrees; images only (last two dims are H × W).
    public var maxRotationDegrees: Double
    /// Noise standard deviation of the last client; client i gets `noiseStd · i / (N − 1)` (NIID-Bench).
    public var noiseStd: Double
    /// Client brightness shift ~ U(range), added to every value.
    public var brightnessRange: ClosedRange<Double>?

    public init(maxRotationDegrees: Double = 0, noiseStd: Double = 0, brightnessRange: ClosedRange<Double>? = nil) {
        self.maxRotationDegrees = maxRotationDegrees
        self.noiseStd = noiseStd
        self.brightnessRange = brightnessRange
    }

    /// True when any component changes the data.
    public var isActive: Bool {
        maxRotationDegrees != 0 || noiseStd != 0 || (brightnessRange.map { $0.lowerBound != 0 || $0.upperBound != 0 } ?? false)
    }

    /// The concrete transform of `client`, derived from `RandomStream(seed, .featureSkew, 3·client)`.
    public func transform(client: Int, clients: Int, seed: UInt64) -> ClientFeatureTransform {
        var rng = RandomStream(seed: seed, purpose: .featureSkew, index: UInt64(client) &* 3)
        let angle = maxRotationDegrees == 0 ? 0 : rng.uniform(-abs(maxRotationDegrees), abs(maxRotationDegrees))
        let shift = brightnessRange.map { rng.uniform($0.lowerBound, $0.upperBound) } ?? 0
        let noise = clients > 1 ? noiseStd * Double(client) / Double(clients - 1) : noiseStd
        return ClientFeatureTransform(client: client, seed: seed, rotationDegrees: angle, noiseStd: noise, brightnessShift: shift)
    }
}
