#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AviaryMath
import AviaryMerge

/// Central DP-FedAvg (McMahan, Ramage, Talwar & Zhang 2018) and DP-MWA for one round, pure.
///
/// With n the *expected* clients per round (q·N, fixed beforehand), every accepted update is
/// clipped to S, weighted by a factor a_i ≤ b, summed, and N(0, (z_Δ·b·S)²) is added to every
/// coordinate of the sum:
/// - DP-FedAvg (strategy uniform or fedavg): a_i = b = 1/n, so the noise std is z·S/n: the fixed
///   denominator, the same whoever answered. Dataset sizes are not used (they would move the
///   sensitivity with a client's data).
/// - DP-MWA: a_i = min(w_i, c/n) with w_i MWA's normalised weight and c = max_weight_factor; b = c/n,
///   the largest weight any one client can get. The capped weights are not renormalised.
/// With adaptive clipping the count of unclipped updates is returned for `AdaptiveClipping`.
public enum CentralAggregation {
    public struct Result: Sendable {
        /// Σ a_i·clip(Δ_i) + noise: what the server optimiser applies.
        public var delta: [Float]
        /// a_i per merged client.
        public var weights: [Int: Double]
        public var rejected: [Rejection]
        /// Clients whose delta was clipped → norm before clipping.
        public var clipped: [Int: Double]
        /// Merged updates with ‖Δ‖ ≤ S (before noise; adaptive clipping noises it): the server's
        /// own count, or under client-side clipping the sum of the clients' reported bits.
        public var unclipped: Int
        /// The std of the noise added to each coordinate of the merged delta: z_Δ·b·S.
        public var noiseStd: Double
    }

    /// Relative slack on the client-side clipping check: a client's Float scaling lands within a
    /// few ulps of S, and f16's round-to-nearest moves a norm by at most 2⁻¹¹ ≈ 4.9·10⁻⁴.
    public static let clientClipTolerance = 1e-3

    public static func merge(_ updates: [ClientUpdate], parameterCount: Int, strategy: AggregationStrategy,
                             settings: PrivacySettings, clipNorm s: Double, expectedClients n: Double,
                             stream: inout RandomStream) -> Result {
        let ordered = updates.sorted { $0.clientIndex < $1.clientIndex }
        var accepted: [(update: ClientUpdate, norm: Double, bit: Int?)] = []
        var rejected: [Rejection] = []
        for u in ordered {
            guard u.delta.count == parameterCount else {
                rejected.append(Rejection(clientIndex: u.clientIndex, reason: .wrongLength(values: u.delta.count, parameters: parameterCount)))
                continue
            }
            let norm = Clipping.norm(u.delta)
            if settings.clipOn == .client && norm > s * (1 + clientClipTolerance) {
                // Client-side clipping: the client promised ‖Δ‖ ≤ S; a larger update is a bad one.
                rejected.append(Rejection(clientIndex: u.clientIndex, reason: .normBeyondBound(norm: norm, bound: s)))
                continue
            }
            var bit: Int? = nil
            if settings.clientReportsUnclipped {
                // The client clipped, so only it knows whether its delta fit under S: b must be 0 or 1.
                let key = PrivacySettings.unclippedMetric
                guard let b = u.metrics[key], b == 0 || b == 1 else {
                    let got = u.metrics[key].map { "is \($0)" } ?? "is missing"
                    rejected.append(Rejection(clientIndex: u.clientIndex, reason: .cannotWeigh(
                        "metric '\(key)' \(got): adaptive clipping with clip_on = \"client\" needs b = 1[‖Δ‖ ≤ S] as 0 or 1")))
                    continue
                }
                bit = Int(b)
            }
            if case .mwa(let config) = strategy {
                let key = config.metric.rawValue
                let value = u.metrics[key] ?? (config.metric == .samples ? Double(u.samples) : nil)
                if let problem = MetricsWeightedAverage.problem(with: value, key: key) {
                    rejected.append(Rejection(clientIndex: u.clientIndex, reason: .cannotWeigh(problem)))
                    continue
                }
            }
            accepted.append((u, norm, bit))
        }

        let bound = noiseBound(strategy, settings: settings, expectedClients: n)
        var factors: [Double]
        if case .mwa(let config) = strategy, !accepted.isEmpty {
            let metrics = accepted.map { $0.update.metrics[config.metric.rawValue] ?? Double($0.update.samples) }
            let extra = config.combineWithSamples ? accepted.map { log(Double(max($0.update.samples, 1))) } : nil
            // Every metric passed `problem`, so weights cannot throw; uniform if it ever did.
            let w = (try? MetricsWeightedAverage.weights(metrics: metrics, kind: config.metric.kind,
                                                         penalty: config.penalty, logExtra: extra))
                ?? [Double](repeating: 1 / Double(accepted.count), count: accepted.count)
            factors = w.map { min($0, bound) }
        } else {
            factors = [Double](repeating: 1 / n, count: accepted.count)
        }

        var sum = [Float](repeating: 0, count: parameterCount)
        var clipped: [Int: Double] = [:]
        var weights: [Int: Double] = [:]
        var unclipped = 0
        sum.withUnsafeMutableBufferPointer { out in
            for (k, (u, norm, bit)) in accepted.enumerated() {
                let f = Clipping.factor(norm: norm, clipNorm: s)
                if f < 1 { clipped[u.clientIndex] = norm }
                unclipped += bit ?? (f < 1 ? 0 : 1)
                weights[u.clientIndex] = factors[k]
                let alpha = Float(factors[k] * f)
                u.delta.withUnsafeBufferPointer { d in
                    for i in 0..<parameterCount { out[i] += alpha * d[i] }
                }
            }
        }
        let z = settings.deltaNoiseMultiplier ?? settings.noiseMultiplier
        let std = z * bound * s
        GaussianNoise.add(to: &sum, std: std, stream: &stream)
        return Result(delta: sum, weights: weights, rejected: rejected, clipped: clipped, unclipped: unclipped, noiseStd: std)
    }

    /// b: the largest factor one client's clipped delta can get (1/n, or c/n under DP-MWA). An
    /// empty round gets the same noise as a full one.
    public static func noiseBound(_ strategy: AggregationStrategy, settings: PrivacySettings, expectedClients n: Double) -> Double {
        if case .mwa = strategy { return settings.maxWeightFactor / n }
        return 1 / n
    }

    /// Whether `strategy` has a sensitivity bound under central DP; the reason when it has not.
    public static func refusal(for strategy: AggregationStrategy) -> String? {
        switch strategy {
        case .uniform, .fedavg, .fedavgSamplesProcessed, .mwa: return nil
        case .median, .trimmedMean:
            return "\(strategy.name) has no sensitivity bound implemented here: one client can move a coordinate-wise order statistic by up to the clip norm in every coordinate, which the Gaussian noise of DP-FedAvg is not calibrated to"
        case .krum, .multiKrum:
            return "\(strategy.name) selects whole updates, so one client can change which update is released (sensitivity 2S and no amplification argument); no bound is implemented for it"
        }
    }
}
