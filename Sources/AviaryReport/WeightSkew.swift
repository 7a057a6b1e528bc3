import Foundation
import AviaryLog

/// Which clients a weighting favours under label skew: the merge-weighted mean label entropy of
/// the accepted clients against their plain mean, per round, averaged over rounds. A negative
/// gap means the weighting moves weight to clients that hold fewer classes — under Dirichlet
/// skew those have low local loss, which is exactly what loss-based MWA rewards.
public struct WeightSkew: Sendable, Equatable {
    /// Mean over rounds of (Σ wᵢ Hᵢ − mean Hᵢ), in bits.
    public var entropyGap: Double
    /// Mean over rounds of the plain mean label entropy of the accepted clients, in bits.
    public var meanEntropy: Double
    /// Mean over rounds of the weight share held by the accepted clients with below-median entropy.
    public var lowEntropyShare: Double
    public var rounds: Int

    /// nil when the log has no per-client label histograms (large populations leave them out).
    public init?(log: AggregationLog) {
        guard let histograms = log.runStart?.partitionStats?.labelHistograms, !histograms.isEmpty else { return nil }
        let entropy = histograms.map(Self.entropy)
        var gap = 0.0, mean = 0.0, share = 0.0, n = 0
        for r in log.rounds where r.accepted.count >= 2 {
            let clients = r.accepted.filter { $0 < entropy.count }
            let weights = clients.map { r.weights[String($0)] ?? 0 }
            let total = weights.reduce(0, +)
            guard clients.count >= 2, total > 0 else { continue }
            let h = clients.map { entropy[$0] }
            let plain = h.reduce(0, +) / Double(h.count)
            let weighted = zip(weights, h).map { $0 / total * $1 }.reduce(0, +)
            let median = h.sorted()[h.count / 2]
            let low = zip(weights, h).filter { $0.1 < median }.map(\.0).reduce(0, +) / total
            gap += weighted - plain; mean += plain; share += low; n += 1
        }
        guard n > 0 else { return nil }
        entropyGap = gap / Double(n); meanEntropy = mean / Double(n); lowEntropyShare = share / Double(n); rounds = n
    }

    /// The average of several runs' figures (rounds summed); nil for none.
    public static func mean(_ runs: [WeightSkew]) -> WeightSkew? {
        guard !runs.isEmpty else { return nil }
        let n = Double(runs.count)
        var m = runs[0]
        m.entropyGap = runs.map(\.entropyGap).reduce(0, +) / n
        m.meanEntropy = runs.map(\.meanEntropy).reduce(0, +) / n
        m.lowEntropyShare = runs.map(\.lowEntropyShare).reduce(0, +) / n
        m.rounds = runs.map(\.rounds).reduce(0, +)
        return m
    }

    /// Shannon entropy in bits of a label histogram.
    public static func entropy(_ histogram: [Int]) -> Double {
        let total = Double(histogram.reduce(0, +))
        guard total > 0 else { return 0 }
        return histogram.filter { $0 > 0 }.map { Double($0) / total }.map { -$0 * log2($0) }.reduce(0, +)
    }
}
