import AviaryMath
import Foundation

/// How client sizes are drawn under quantity skew.
public enum QuantitySkew: Codable, Sendable, Hashable {
    /// Sizes ∝ exp(N(0, σ)) (LEAF/FedProx-style lognormal).
    case lognormal(sigma: Double)
    /// Sizes ∝ Pareto draws with tail exponent a: w = U^(−1/a); smaller a, heavier tail.
    case powerLaw(exponent: Double)
    /// Proportions ~ Dir(α·1_N) (NIID-Bench quantity skew).
    case dirichlet(alpha: Double)
}

/// Quantity skew: IID labels, unequal sizes. Every client gets at least one sample; sizes sum
/// to the sample count exactly (largest-remainder rounding), so nothing is dropped.
public enum QuantitySkewPartitioner {
    public static func partition(sampleCount: Int, clients: Int, skew: QuantitySkew, seed: UInt64) throws -> Partition {
        try PartitionSupport.requireClients(clients, "quantity-skew")
        guard sampleCount >= clients else {
            throw PartitionError.notEnoughSamples(partitioner: "quantity-skew", available: sampleCount, needed: clients, what: "samples (one per client)")
        }
        var rng = RandomStream(seed: seed, purpose: .partition, index: 0)
        let weights: [Double]
        switch skew {
        case .lognormal(let sigma):
            guard sigma >= 0, sigma.isFinite else { throw bad("lognormal sigma must be ≥ 0, got \(sigma)") }
            weights = (0..<clients).map { _ in exp(rng.normal(mean: 0, std: sigma)) }
        case .powerLaw(let a):
            guard a > 0, a.isFinite else { throw bad("power-law exponent must be > 0, got \(a)") }
            weights = (0..<clients).map { _ in
                var u = rng.nextDouble()
                while u <= 0 { u = rng.nextDouble() }
                return pow(u, -1 / a)
            }
        case .dirichlet(let alpha):
            guard alpha > 0, alpha.isFinite else { throw bad("dirichlet alpha must be > 0, got \(alpha)") }
            weights = rng.dirichlet([Double](repeating: alpha, count: clients))
        }
        let sizes = apportion(sampleCount - clients, weights: weights).map { $0 + 1 }
        let order = rng.permutation(sampleCount)
        return Partition(clientIndices: PartitionSupport.split(order, sizes: sizes), sampleCount: sampleCount)
    }

    /// Integer sizes proportional to `weights` summing to `total` (largest remainder, ties by index).
    static func apportion(_ total: Int, weights: [Double]) -> [Int] {
        let sum = weights.reduce(0, +)
        let exact = weights.map { sum > 0 && sum.isFinite ? Double(total) * $0 / sum : Double(total) / Double(weights.count) }
        var sizes = exact.map { Int($0.rounded(.down)) }
        let left = total - sizes.reduce(0, +)
        let byRemainder = exact.indices.sorted { (exact[$0] - Double(sizes[$0]), $1) > (exact[$1] - Double(sizes[$1]), $0) }
        for i in byRemainder.prefix(left) { sizes[i] += 1 }
        return sizes
    }

    private static func bad(_ problem: String) -> PartitionError {
        .invalidParameter(partitioner: "quantity-skew", problem: problem)
    }
}
