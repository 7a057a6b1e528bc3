/// A bound on one update's ℓ2 norm (`[merge] max_update_norm`, `max_update_norm_ratio`):
/// updates beyond it are rejected before the strategy runs, like a NaN. The relative bound is a
/// multiple of the round's lower median norm (of n norms, the ⌊(n − 1)/2⌋-th smallest), so one
/// huge update among two cannot raise its own bar; a round whose median norm is 0, or a single
/// update, gets no relative bound. Both bounds may be set; the smaller applies.
public struct UpdateNormBound: Sendable, Hashable, Codable {
    /// Absolute bound; nil: none.
    public var maxNorm: Double?
    /// Multiple of the round's lower median norm; nil: none.
    public var medianMultiple: Double?

    public init(maxNorm: Double? = nil, medianMultiple: Double? = nil) {
        self.maxNorm = maxNorm
        self.medianMultiple = medianMultiple
    }

    /// The round's bound for updates with these norms, or nil when nothing bounds them.
    public func bound(norms: [Double]) -> Double? {
        var bound = maxNorm
        if let k = medianMultiple, norms.count >= 2 {
            let median = norms.sorted()[(norms.count - 1) / 2]
            if median > 0 && median.isFinite { bound = min(bound ?? .infinity, k * median) }
        }
        return bound
    }
}
