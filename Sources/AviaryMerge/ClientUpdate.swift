/// One client's answer to a round, checked: its dense delta (local − global) has the model's
/// length and is finite, `samples` > 0, every metric finite, and the weight inputs are the ones
/// the server trusts (`samples` is the update's field, also under `metrics["samples"]`;
/// `metrics["dataset_size"]` is the size the server derived, or the client's capped). The
/// server's state machine builds it once, on arrival (`ServerStateMachine.accept`); the merge,
/// the run state and stale updates only ever see this type.
public struct ClientUpdate: Sendable, Hashable {
    /// The client's stable index; merges run in ascending index order.
    public var clientIndex: Int
    /// Training samples processed this round (the `samples_processed` FedAvg weight).
    public var samples: Int
    /// Named metrics, e.g. `train_loss`, `adv_loss`, `local_steps` (MWA's weight) and
    /// `dataset_size` (FedAvg's default weight).
    public var metrics: [String: Double]
    /// local − global, over the model's one flat parameter vector.
    public var delta: [Float]

    /// One rule for `samples`: the field wins over any metric of that name.
    public init(clientIndex: Int, samples: Int, metrics: [String: Double], delta: [Float]) {
        self.clientIndex = clientIndex
        self.samples = samples
        self.metrics = metrics
        self.metrics["samples"] = Double(samples)
        self.delta = delta
    }
}

/// What a strategy returns: the merged delta and how much each client counted.
///
/// `weights[c]` is the mean over coordinates of the factor client `c`'s value received in the
/// merged delta, so it is ≥ 0 and sums to 1 over the accepted clients for every strategy:
/// - fedavg / uniform / mwa: the linear weight itself;
/// - krum: 1 for the selected client, 0 for the rest; multi-krum: 1/m for each of the m selected;
/// - median: the fraction of coordinates where the client's value was the median (halves when
///   the count is even and two values are averaged);
/// - trimmed mean: the fraction of coordinates where it survived trimming, divided by the
///   number of survivors per coordinate.
/// Clipping does not change the weights; it is reported in `clipped`.
public struct AggregationResult: Sendable {
    /// The merged delta (what the server optimiser applies).
    public var delta: [Float]
    /// Per accepted client, see the type's documentation.
    public var weights: [Int: Double]
    /// Updates refused before merging, in client-index order.
    public var rejected: [Rejection]
    /// Client → its ℓ2 norm before clipping, for the clients that were clipped.
    public var clipped: [Int: Double]
    /// Accepted updates merged by a fallback rule rather than the strategy's own (MWA's
    /// `missing_metric = "uniform"`), with the reason, in client-index order.
    public var fallbacks: [Rejection]
    /// Σ delta_j² summed in index order in Float, the sum `update_norm` is the root of, when the
    /// merge computed it in its own pass (the bounded weighted mean); nil otherwise.
    public var deltaSquares: Float? = nil
    /// With `aggregate(serverStep:)`: the model after the SGD step on `delta`, computed in the
    /// merge's own pass, when that pass ran (the bounded weighted mean on AVX2) and every value
    /// was finite; nil otherwise (the caller steps as usual, and reports what was not finite).
    public var stepped: [Float]? = nil

    public init(delta: [Float], weights: [Int: Double], rejected: [Rejection], clipped: [Int: Double],
                fallbacks: [Rejection] = []) {
        self.delta = delta
        self.weights = weights
        self.rejected = rejected
        self.clipped = clipped
        self.fallbacks = fallbacks
    }
}
