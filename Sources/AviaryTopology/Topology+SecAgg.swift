import Foundation
import AviaryMerge
import AviaryProtocol
import AviarySecAgg

/// `[secagg]`: secure aggregation (SecAgg+; docs/TOPOLOGY.md, docs/SECURITY.md): when enabled,
/// every round runs its stages (the server's `SecAggPlan`, the client's `SecAggParticipation`)
/// and no client sends its update in clear.
public struct SecAggSettings: Codable, Sendable, Hashable {
    public var enabled = false
    /// k, neighbours per client; nil: `NeighbourGraph.defaultDegree` for the round's size.
    public var numShares: Int? = nil
    /// t; nil: a strict majority of k (`NeighbourGraph.defaultThreshold`).
    public var reconstructionThreshold: Int? = nil
    /// c: every coordinate of w·Δ is clipped to [−c, c] before quantisation.
    public var clippingRange: Double = 1
    /// The grid has 2^bits − 1 steps across [−c, c].
    public var quantizationBits: Int = 16
    /// The ring Z_2^b the masked sum lives in (b ≤ 32: one UInt32 per coordinate on the wire).
    public var modulusBits: Int = 32
    /// Seeds the neighbour graph (recorded; the masks themselves come from fresh keys).
    public var seed: UInt64 = 7
    /// m_ref of MWA under SecAgg (`SecAggWeightRule.mwaLoss`): a client's weight is
    /// min(1, (m/m_ref)^(−p)), so losses at or below m_ref all weigh 1.
    public var mwaReference: Double = 0.05

    public init() {}

    /// The round's parameters for `participants` clients and a masked vector of `vectorLength`.
    public func parameters(round: Int, participants: [Int], vectorLength: Int) throws(SecAggError) -> SecAggParameters {
        let k = numShares ?? NeighbourGraph.defaultDegree(participants: participants.count)
        let degree = min(k, max(participants.count - 1, 1))
        let t = reconstructionThreshold ?? NeighbourGraph.defaultThreshold(degree: degree)
        let q = try FixedPointQuantiser(clippingRange: clippingRange, quantisationBits: quantizationBits, modulusBits: modulusBits)
        return try SecAggParameters(round: round, participants: participants, degree: degree, threshold: t, graphSeed: seed,
                                    quantiser: q, vectorLength: vectorLength)
    }
}

extension Topology {
    static func parseSecAgg(_ t: TableReader) throws(TopologyError) -> SecAggSettings {
        var s = SecAggSettings()
        guard t.exists else { return s }
        s.enabled = try t.bool("enabled", default: false)
        let keys = ["num_shares", "reconstruction_threshold", "clipping_range", "quantization_bits", "modulus_bits", "seed", "mwa_reference"]
        guard s.enabled else {
            t.ignore(keys, because: "enabled = false")
            try t.finish()
            return s
        }
        s.numShares = try t.int("num_shares")
        s.reconstructionThreshold = try t.int("reconstruction_threshold")
        s.clippingRange = try t.double("clipping_range", default: 1, range: 1e-12...1e12)
        s.quantizationBits = try t.int("quantization_bits", default: 16, range: 1...31)
        s.modulusBits = try t.int("modulus_bits", default: 32, range: 2...32)
        s.seed = UInt64(try t.int("seed", default: 7, range: 0...Int.max))
        s.mwaReference = try t.double("mwa_reference", default: 0.05, range: 1e-12...1e12)
        try t.finish()
        return s
    }

    /// Cross-section rules of `[secagg]`, each naming the key to change and why.
    func checkSecAgg(file: String) throws(TopologyError) {
        let s = secAgg
        guard s.enabled else { return }
        func bad(_ key: String, _ value: String, _ expected: String) -> TopologyError {
            .invalidValue(file: file, key: key, value: value, expected: expected)
        }
        switch merge.strategy {
        case .fedavg, .fedavgSamplesProcessed, .uniform, .mwa: break
        default:
            throw bad("merge.strategy", "\"\(merge.strategy.name)\"",
                      "uniform, fedavg or mwa with [secagg]: the server only learns the sum of the updates, and \(merge.strategy.name) needs each one")
        }
        if case .mwa(let c) = merge.strategy {
            if c.metric.kind != .loss {
                throw bad("merge.metric", "\"\(c.metric.rawValue)\"", "a loss-type metric (train_loss, adv_loss, val_loss) with [secagg]: each client turns its own metric into a weight in (0, 1] against secagg.mwa_reference, which needs a floor on the metric, and only losses have one")
            }
            if c.combineWithSamples {
                throw bad("merge.combine", "\"samples\"", "\"none\" with [secagg]: the client weighs its own update, by its metric alone")
            }
            if c.missingMetric == .uniform {
                throw bad("merge.missing_metric", "\"uniform\"", "\"refuse\" or \"skip\" with [secagg]: the server never sees who lacks the metric, so it cannot fall back to uniform weights (a client without it answers FAILURE)")
            }
        }
        if let clip = merge.clipNorm {
            throw bad("merge.clip_norm", "\(clip)", "no value with [secagg]: the server never sees one update to clip it (secagg.clipping_range bounds every coordinate on the client)")
        }
        if let bound = merge.normBound {
            let key = bound.maxNorm != nil ? "merge.max_update_norm" : "merge.max_update_norm_ratio"
            throw bad(key, bound.maxNorm.map { "\($0)" } ?? "\(bound.medianMultiple ?? 0)",
                      "no bound with [secagg] (max_update_norm unset, max_update_norm_ratio = 0): the server cannot measure one client's norm; clipping_range bounds every coordinate instead")
        }
        switch compression {
        case .f32: break
        default:
            throw bad("compression.encoding", "\"\(compression.name)\"",
                      "f32 with [secagg]: the update is quantised into Z_2^modulus_bits (quantization_bits per coordinate), which replaces f16 and int8, and masking makes it dense, so top-k saves nothing")
        }
        if privacy.isOn && privacy.clipOn == .server {
            throw bad("privacy.clip_on", "\"server\"", "\"client\" with [secagg]: the server cannot clip an update it never sees")
        }
        if privacy.mode == .local {
            throw bad("privacy.mode", "\"local\"", "\"central\" (with clip_on = \"client\") or \"none\" with [secagg]: local DP's per-client accounting of masked reports is not wired yet")
        }
        if privacy.mode == .central {
            // DP-FedAvg on the secure sum (docs/PRIVACY.md, "With secure aggregation"): every
            // client clips to S and masks its update with weight 1, the server divides the
            // unmasked sum by the fixed n and adds N(0, (z·S′/n)²), S′ = S + quantisation's bound.
            if privacy.clipping == .adaptive {
                throw bad("privacy.clipping", "\"adaptive\"", "\"fixed\" with [secagg]: adaptive clipping moves S by the noised count of unclipped updates, and under secure aggregation that count would have to be masked too, which is not wired yet")
            }
            if case .mwa = merge.strategy {
                throw bad("merge.strategy", "\"mwa\"", "uniform or fedavg with [secagg] and central DP (both run as DP-FedAvg, every client weighted 1/n): DP-MWA caps each normalised weight at max_weight_factor/n, and under secure aggregation no one sees the weights to normalise or cap them")
            }
        }
        if model.kind == .external {
            throw bad("model.kind", "\"external\"", "a built-in model with [secagg]: an external model's clients run the Python SDK, which does not implement secure aggregation and refuses the run")
        }
        if server.mode == .buffered {
            throw bad("server.mode", "\"buffered\"", "\"sync\" with [secagg]: buffered mode discounts each update by its staleness, and the server never sees one")
        }
        if system?.stragglerPolicy == .stale {
            throw bad("system.straggler_policy", "\"stale\"", "\"drop\" or \"wait\" with [secagg]: a late update would have to be unmasked outside its round")
        }
        let n = server.clientsPerRound
        if let k = s.numShares, k < n - 1, k % 2 != 0 || k < 2 {
            throw bad("secagg.num_shares", "\(k)", "an even number ≥ 2 (each client neighbours k/2 clients on either side of a ring), or ≥ clients_per_round − 1 = \(n - 1) for the complete graph")
        }
        do {
            _ = try s.parameters(round: 1, participants: Array(0..<max(n, 2)), vectorLength: 1)
        } catch let e {
            let key: String
            switch e {
            case .sumCouldWrap: key = "secagg.quantization_bits"
            case .invalidParameters(let why) where why.hasPrefix("reconstruction_threshold"): key = "secagg.reconstruction_threshold"
            case .invalidParameters(let why) where why.hasPrefix("quantization_bits"): key = "secagg.quantization_bits"
            default: key = "secagg"
            }
            throw bad(key, key == "secagg.reconstruction_threshold" ? "\(s.reconstructionThreshold ?? 0)" : "\(s.quantizationBits)",
                      "a value that works for clients_per_round = \(n): \(e)")
        }
    }
}

/// How a client weighs its own update under `[secagg]` (docs/SECURITY.md, "Weights"): the
/// client masks w·Δ and w·c, so the server learns only Σw_iΔ_i and Σw_i. w must lie in (0, 1]
/// (`WeightedInput`), so each rule divides by a reference common to all clients; the merge
/// Σw_iΔ_i / Σw_i does not depend on it, only the quantisation error does (it grows as 1/Σw_i).
public enum SecAggWeightRule: Codable, Sendable, Hashable {
    /// w = 1 (`strategy = "uniform"`).
    case uniform
    /// FedAvg: w = n / reference, n the client's `dataset_size` (the reference is the largest
    /// partition's size, which the server knows) or its samples processed this round
    /// (reference: the largest partition × local epochs).
    case samples(weight: FedAvgWeight, reference: Double)
    /// MWA on a loss-type metric: w = min(1, (m/m_ref)^(−p)) from the client's own metric m,
    /// which is then never sent in clear.
    case mwaLoss(metric: MWAMetric, penalty: Double, reference: Double)

    /// The rule for a topology's merge, or nil when `checkSecAgg` refuses the strategy.
    /// - Parameter largestPartition: the most training samples any client holds.
    public static func of(_ topology: Topology, largestPartition: Int) -> SecAggWeightRule? {
        // Central DP is DP-FedAvg whatever the strategy (uniform or fedavg): a_i = 1/n with the
        // fixed n, so each client masks its clipped delta with weight 1 and sizes are not used.
        if topology.privacy.mode == .central { return .uniform }
        switch topology.merge.strategy {
        case .uniform: return .uniform
        case .fedavg: return .samples(weight: .datasetSize, reference: Double(max(largestPartition, 1)))
        case .fedavgSamplesProcessed:
            return .samples(weight: .samplesProcessed, reference: Double(max(largestPartition, 1) * max(topology.training.localEpochs, 1)))
        case .mwa(let c) where c.metric.kind == .loss && !c.combineWithSamples:
            return .mwaLoss(metric: c.metric, penalty: c.penalty, reference: topology.secAgg.mwaReference)
        default: return nil
        }
    }

    /// This client's weight in (0, 1], or why it has none (then it sends FAILURE, and the
    /// round goes on without it: the server cannot apply a fallback to a weight it never sees).
    public func weight(samples: Int, metrics: [String: Double]) -> Result<Double, SecAggWeightError> {
        switch self {
        case .uniform: return .success(1)
        case let .samples(weight, reference):
            let n = weight == .datasetSize ? (metrics["dataset_size"] ?? Double(samples)) : Double(samples)
            guard n > 0, n.isFinite else { return .failure(.nonPositiveSamples(n)) }
            return .success(min(1, n / reference))
        case let .mwaLoss(metric, penalty, reference):
            if let problem = MetricsWeightedAverage.problem(with: metrics[metric.rawValue], key: metric.rawValue) { return .failure(.unusableMetric(problem)) }
            let m = metrics[metric.rawValue]!
            let w = min(1, pow(m / reference, -penalty))
            guard w > 0, w.isFinite else { return .failure(.underflow(metric: m, reference: reference, penalty: penalty)) }
            return .success(w)
        }
    }
}

/// Why a client has no weight under `[secagg]` (it then answers FAILURE with this reason).
public enum SecAggWeightError: Error, Equatable, Sendable, CustomStringConvertible {
    case nonPositiveSamples(Double)
    /// MWA's metric is missing, not finite or ≤ 0 (`MetricsWeightedAverage.problem`'s words).
    case unusableMetric(String)
    case underflow(metric: Double, reference: Double, penalty: Double)

    public var description: String {
        switch self {
        case let .nonPositiveSamples(n): "FedAvg needs a positive sample count, this client has \(n)"
        case let .unusableMetric(why): why
        case let .underflow(m, reference, p): "the MWA weight (\(m) / \(reference))^(−\(p)) underflows to 0"
        }
    }
}
