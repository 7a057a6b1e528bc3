/// Merges whole checkpoints by metrics-weighted averaging: θ = Σ w_i θ_i, the MWA paper's own
/// setting (e.g. checkpoints from several rounds weighted by their loss or step count).
///
/// Weights follow `MetricsWeightedAverage` (log-space, never NaN); the sum runs in input order
/// with the blocked kernel of `aggregate`. Throws `MergeConfigError.penaltyOutOfRange` for p
/// outside 0…10, `MergeError.noUpdates` for no input, and `MergeError.invalidCheckpoint` for a
/// bad metric or a length differing from the first checkpoint's.
public func mergeCheckpoints(_ checkpoints: [(parameters: [Float], metric: Double)], kind: MetricKind,
                             penalty: Double) throws -> (parameters: [Float], weights: [Double]) {
    try MetricsWeightedAverage.validatePenalty(penalty)
    guard let first = checkpoints.first else { throw MergeError.noUpdates }
    let count = first.parameters.count
    for (position, checkpoint) in checkpoints.enumerated() {
        if let problem = MetricsWeightedAverage.problem(with: checkpoint.metric, key: "value") {
            throw MergeError.invalidCheckpoint(position: position, reason: problem)
        }
        guard checkpoint.parameters.count == count else {
            throw MergeError.invalidCheckpoint(
                position: position,
                reason: "has \(checkpoint.parameters.count) parameters but checkpoint #1 has \(count)")
        }
    }
    let weights = try MetricsWeightedAverage.weights(metrics: checkpoints.map(\.metric), kind: kind, penalty: penalty)
    let factors = weights.map { Float($0) }
    let merged = FloatPointers.with(checkpoints.map(\.parameters)) { inputs in
        MergedVector.make(count: count) { out in
            WeightedSumKernel.run(inputs: inputs, weights: factors, count: count, into: out)
        }
    }
    return (merged, weights)
}
