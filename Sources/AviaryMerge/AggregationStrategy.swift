/// How the server merges one round's accepted updates into one delta.
///
/// Encoded flat for configs and logs, e.g. `{"name":"mwa","metric":"train_loss","penalty":2,
/// "combineWithSamples":false}` or `{"name":"trimmed-mean","beta":0.1}`. Names are spelled as in
/// the topology (`trimmed-mean`, `multi-krum`); the older `trimmed_mean`/`multi_krum` still decode.
public enum AggregationStrategy: Codable, Sendable, Hashable {
    /// Weighted by each client's local dataset size n_k (McMahan et al. 2017, as Flower does):
    /// read from the update's `dataset_size` metric.
    case fedavg
    /// FedAvg weighted by the samples the client processed this round (epochs × dataset size,
    /// cut by `max_local_steps`): the update's `samples` field.
    case fedavgSamplesProcessed
    /// Every accepted update counts 1/n.
    case uniform
    /// Metrics-weighted averaging, see `MetricsWeightedAverage`.
    case mwa(MWAConfig)
    /// Coordinate-wise median (Yin et al. 2018).
    case median
    /// Coordinate-wise mean after dropping ⌊beta·n⌋ values at each end (Yin et al. 2018).
    case trimmedMean(beta: Double)
    /// The one update closest to its n − f − 2 nearest neighbours (Blanchard et al. 2017).
    case krum(byzantine: Int)
    /// Uniform mean of the `selected` updates with the best Krum scores.
    case multiKrum(byzantine: Int, selected: Int)

    /// The strategy's name as it appears in configs and logs.
    public var name: String {
        switch self {
        case .fedavg, .fedavgSamplesProcessed: return "fedavg"
        case .uniform: return "uniform"
        case .mwa: return "mwa"
        case .median: return "median"
        case .trimmedMean: return "trimmed-mean"
        case .krum: return "krum"
        case .multiKrum: return "multi-krum"
        }
    }

    /// A weighted mean of the updates (FedAvg, uniform, MWA): linear in each delta, merged by
    /// `WeightedSumKernel`. The server merges such rounds inline and lets their staleness
    /// discounts ride into the kernel (`aggregate`'s `discounts`).
    public var isWeightedMean: Bool {
        switch self {
        case .fedavg, .fedavgSamplesProcessed, .uniform, .mwa: return true
        case .median, .trimmedMean, .krum, .multiKrum: return false
        }
    }

    /// What FedAvg weights by, or nil for the other strategies.
    public var fedavgWeight: FedAvgWeight? {
        switch self {
        case .fedavg: return .datasetSize
        case .fedavgSamplesProcessed: return .samplesProcessed
        default: return nil
        }
    }

    /// Throws a `MergeConfigError` naming the bad parameter. Checks that need the round's update
    /// count (Krum's n ≥ 2f + 3) happen in `aggregate`.
    public func validate() throws {
        switch self {
        case .fedavg, .fedavgSamplesProcessed, .uniform, .median:
            return
        case .mwa(let config):
            try config.validate()
        case .trimmedMean(let beta):
            guard beta.isFinite, beta >= 0, beta < 0.5 else { throw MergeConfigError.trimFractionOutOfRange(beta) }
        case .krum(let f):
            guard f >= 0 else { throw MergeConfigError.negativeByzantineCount(f) }
        case .multiKrum(let f, let m):
            guard f >= 0 else { throw MergeConfigError.negativeByzantineCount(f) }
            guard m >= 1 else { throw MergeConfigError.invalidSelectedCount(m) }
        }
    }

    private enum CodingKeys: String, CodingKey {
        case name, metric, penalty, combineWithSamples, missingMetric, beta, byzantine, selected, weight
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = try c.decode(String.self, forKey: .name)
        switch name {
        case "fedavg":
            // Logs written before the weight was recorded weighted by samples processed.
            let weight = try c.decodeIfPresent(FedAvgWeight.self, forKey: .weight) ?? .samplesProcessed
            self = weight == .datasetSize ? .fedavg : .fedavgSamplesProcessed
        case "uniform": self = .uniform
        case "median": self = .median
        case "mwa":
            self = .mwa(MWAConfig(
                metric: try c.decode(MWAMetric.self, forKey: .metric),
                penalty: try c.decode(Double.self, forKey: .penalty),
                combineWithSamples: try c.decodeIfPresent(Bool.self, forKey: .combineWithSamples) ?? false,
                missingMetric: try c.decodeIfPresent(MissingMetricPolicy.self, forKey: .missingMetric) ?? .refuse))
        case "trimmed-mean", "trimmed_mean": self = .trimmedMean(beta: try c.decode(Double.self, forKey: .beta))
        case "krum": self = .krum(byzantine: try c.decode(Int.self, forKey: .byzantine))
        case "multi-krum", "multi_krum":
            self = .multiKrum(byzantine: try c.decode(Int.self, forKey: .byzantine),
                              selected: try c.decode(Int.self, forKey: .selected))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .name, in: c,
                debugDescription: "unknown strategy '\(name)'; use fedavg, uniform, mwa, median, trimmed-mean, krum or multi-krum")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        switch self {
        case .fedavg, .fedavgSamplesProcessed: try c.encode(fedavgWeight, forKey: .weight)
        case .uniform, .median: break
        case .mwa(let config):
            try c.encode(config.metric, forKey: .metric)
            try c.encode(config.penalty, forKey: .penalty)
            try c.encode(config.combineWithSamples, forKey: .combineWithSamples)
            try c.encode(config.missingMetric, forKey: .missingMetric)
        case .trimmedMean(let beta): try c.encode(beta, forKey: .beta)
        case .krum(let f): try c.encode(f, forKey: .byzantine)
        case .multiKrum(let f, let m):
            try c.encode(f, forKey: .byzantine)
            try c.encode(m, forKey: .selected)
        }
    }
}

/// What `fedavg` weights each client by (`[merge] fedavg_weight`).
public enum FedAvgWeight: String, Codable, Sendable, Hashable, CaseIterable {
    /// The client's number of local training samples n_k (McMahan et al. 2017; Flower). Default.
    case datasetSize = "dataset_size"
    /// Samples processed this round: epochs × n_k, fewer when `max_local_steps` cuts the epoch.
    case samplesProcessed = "samples_processed"
}
