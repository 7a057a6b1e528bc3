import AviaryMerge
import AviaryProtocol
import AviarySecAgg

/// `[secagg]`: secure aggregation (SecAgg+; docs/TOPOLOGY.md, docs/SECURITY.md). Parsed and
/// validated, and refused as a whole for now: no run executes its stages yet, and a run that
/// asked for it must not silently send updates in clear.
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
        let keys = ["num_shares", "reconstruction_threshold", "clipping_range", "quantization_bits", "modulus_bits", "seed"]
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
        try t.finish()
        return s
    }

    /// Cross-section rules of `[secagg]`, each naming the key to change and why; then the
    /// refusal of SecAgg itself, which no run executes yet.
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
        if let clip = merge.clipNorm {
            throw bad("merge.clip_norm", "\(clip)", "no value with [secagg]: the server never sees one update to clip it (clip on the client: [privacy] clip_on = \"client\")")
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
        throw bad("secagg.enabled", "true",
                  "false: secure aggregation is built (Sources/AviarySecAgg, protocol 6) but not yet wired into runs, and a run must not send its updates in clear when [secagg] asks it not to (docs/SECURITY.md)")
    }
}
