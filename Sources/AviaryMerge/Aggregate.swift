import AviaryMath
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Merges one round's updates into one delta with `strategy`; pure (no I/O, no logging).
///
/// Steps, in order:
/// 1. Updates are sorted by client index (so any arrival order gives a bit-identical result);
///    a duplicate index or a delta length differing from the lowest-index client's is an error.
/// 2. Updates the strategy cannot weigh are rejected with a reason: MWA needs its metric
///    finite and > 0 (a missing one follows `MWAConfig.missingMetric`); FedAvg needs a positive
///    `dataset_size` metric (or samples > 0 with `samples_processed`, as MWA × FedAvg does).
///    Before that, with `normBound`, updates whose ℓ2 norm is beyond the round's bound are
///    rejected (see `UpdateNormBound`).
/// 3. With `clipNorm` c, each delta is scaled by min(1, c/‖Δ_i‖₂) before the strategy sees it
///    (applied as a factor inside the kernels, no copies); the original norms are reported.
/// 4. The strategy runs on the accepted updates, see `AggregationStrategy` and
///    `AggregationResult.weights` for what each weight means.
///
/// `discounts` (client index → f, absent: 1) makes a client's delta count as Float(f·Δ)
/// element by element, everywhere above (norms, clipping, the strategy), bit for bit as if the
/// caller had passed that scaled copy: buffered mode's staleness discount. The weighted-mean
/// strategies apply f inside their kernels, so no scaled copy is made; the others get one.
///
/// `serverStep` (the global model and an SGD learning rate): the bounded weighted mean also
/// applies the server's SGD step in its pass over memory, `AggregationResult.stepped`.
///
/// Deltas are assumed finite: the server validates them at the edge before they get here.
/// Throws `MergeError` (nothing to merge, too few for the strategy, mismatched lengths) or
/// `MergeConfigError` (invalid strategy or clip norm).
public func aggregate(_ updates: [ClientUpdate], strategy: AggregationStrategy,
                      clipNorm: Double? = nil, normBound: UpdateNormBound? = nil,
                      discounts: [Int: Float] = [:], serverStep: (global: [Float], rate: Double)? = nil) throws -> AggregationResult {
    try strategy.validate()
    if let c = clipNorm, !(c.isFinite && c > 0) { throw MergeConfigError.invalidClipNorm(c) }
    guard !updates.isEmpty else { throw MergeError.noUpdates }

    var ordered = updates.sorted { $0.clientIndex < $1.clientIndex }
    // Weighted means take each delta's discount as a prescale inside their kernels; the other
    // strategies' kernels carry one scale (the clip factor), so they get the scaled copies.
    if !discounts.isEmpty && !strategy.isWeightedMean {
        for i in ordered.indices {
            if let f = discounts[ordered[i].clientIndex], f != 1 { ordered[i].delta = scaledCopy(ordered[i].delta, by: f) }
        }
    }
    func prescale(_ u: ClientUpdate) -> Float { strategy.isWeightedMean ? discounts[u.clientIndex] ?? 1 : 1 }
    let reference = ordered[0]
    for (previous, next) in zip(ordered, ordered.dropFirst()) where previous.clientIndex == next.clientIndex {
        throw MergeError.duplicateClient(clientIndex: next.clientIndex)
    }
    for u in ordered where u.delta.count != reference.delta.count {
        throw MergeError.dimensionMismatch(clientIndex: u.clientIndex, length: u.delta.count,
                                           expected: reference.delta.count, referenceClient: reference.clientIndex)
    }

    func classify(norms: [Double], bound: Double?) -> (accepted: [ClientUpdate], rejected: [Rejection], fallbacks: [Rejection]) {
        var accepted: [ClientUpdate] = []
        var rejected: [Rejection] = []
        var fallbacks: [Rejection] = []
        for (i, u) in ordered.enumerated() {
            if let bound, !(norms[i] <= bound) {
                rejected.append(Rejection(clientIndex: u.clientIndex, reason: .normBeyondBound(norm: norms[i], bound: bound)))
            } else if let reason = rejectionReason(u, strategy: strategy) {
                if case .mwa(let config) = strategy, config.missingMetric == .uniform,
                   u.metrics[config.metric.rawValue] == nil, config.metric != .samples, !config.combineWithSamples || u.samples > 0 {
                    fallbacks.append(Rejection(clientIndex: u.clientIndex, reason: .mergedByFallback(reason, rule: "round merged uniformly (missing_metric = \"uniform\")")))
                    accepted.append(u)
                } else {
                    rejected.append(Rejection(clientIndex: u.clientIndex, reason: reason))
                }
            } else {
                accepted.append(u)
            }
        }
        return (accepted, rejected, fallbacks)
    }
    // MWA's weights are only comparable when every merged update reports the metric.
    func effectiveStrategy(_ fallbacks: [Rejection]) -> AggregationStrategy { fallbacks.isEmpty ? strategy : .uniform }
    let count = reference.delta.count

    if let normBound, clipNorm == nil, strategy.isWeightedMean, count > 0,
       let merged = try? boundedWeightedMean(ordered, normBound: normBound, prescale: prescale, count: count,
                                             classify: classify, strategy: effectiveStrategy,
                                             serverStep: serverStep.flatMap { $0.global.count == count ? $0 : nil }) {
        return merged
    }

    var norms: [Double] = []
    if let normBound {
        norms = ordered.map { u in u.delta.withUnsafeBufferPointer { b in
            b.baseAddress.map { FloatPointers.squaredNorm($0, count: b.count, scale: prescale(u)).squareRoot() } ?? 0 } }
    }
    let (accepted, rejected, fallbacks) = classify(norms: norms, bound: normBound?.bound(norms: norms))
    guard !accepted.isEmpty else { throw MergeError.noAcceptedUpdates(rejected: rejected) }
    let effective = effectiveStrategy(fallbacks)

    let deltas = accepted.map(\.delta)
    let prescales = accepted.map(prescale)
    return try FloatPointers.with(deltas) { inputs in
        var scales = [Float](repeating: 1, count: accepted.count)
        var clipped: [Int: Double] = [:]
        if let c = clipNorm {
            for i in accepted.indices {
                let norm = FloatPointers.squaredNorm(inputs[i], count: count, scale: prescales[i]).squareRoot()
                if norm > c {
                    scales[i] = Float(c / norm)
                    clipped[accepted[i].clientIndex] = norm
                }
            }
        }
        let (delta, weights) = try merge(accepted, inputs: inputs, scales: scales, prescales: prescales, count: count, strategy: effective)
        var byClient: [Int: Double] = [:]
        for (u, w) in zip(accepted, weights) { byClient[u.clientIndex] = w }
        return AggregationResult(delta: delta, weights: byClient, rejected: rejected, clipped: clipped, fallbacks: fallbacks)
    }
}

/// A weighted mean under a norm bound in one pass over the deltas: the weighted sum of the
/// updates the metrics accept, computed with every delta's norm (`runWithSquaredNorms`). Exact
/// when no update is beyond the bound, the common case, where the general path's norm pass
/// would have rejected nothing; nil otherwise (or when the metrics accept nothing, or the
/// weights throw), and the caller takes the general path, which says why.
private func boundedWeightedMean(
    _ ordered: [ClientUpdate], normBound: UpdateNormBound, prescale: (ClientUpdate) -> Float, count: Int,
    classify: ([Double], Double?) -> (accepted: [ClientUpdate], rejected: [Rejection], fallbacks: [Rejection]),
    strategy effectiveStrategy: ([Rejection]) -> AggregationStrategy, serverStep: (global: [Float], rate: Double)?
) throws -> AggregationResult? {
    let (accepted, rejected, fallbacks) = classify([], nil)
    guard !accepted.isEmpty else { return nil }
    let weights = try linearWeights(accepted, strategy: effectiveStrategy(fallbacks))
    // As `weightedSum` makes them, with no clip scale (1).
    let factors = weights.map { Float($0 * Double(Float(1))) }
    let prescales = accepted.map(prescale)
    var acceptedSquares: [Double] = []
    var deltaSquares: Float = 0
    var stepFinite: Bool? = nil
    // Only the AVX2 pass steps; it fills every value of `stepped`, which is read only when the
    // step was finite throughout.
    let fuse = VectorKernels.level >= 1 ? serverStep : nil
    var stepped = fuse.map { _ in [Float](unsafeUninitializedCapacity: count) { _, n in n = count } }
    let delta = FloatPointers.with(accepted.map(\.delta)) { inputs in
        MergedVector.make(count: count) { out in
            func pass(_ step: WeightedSumKernel.FusedStep?) {
                (acceptedSquares, deltaSquares, stepFinite) = WeightedSumKernel.runWithSquaredNorms(
                    inputs: inputs, weights: factors, prescales: prescales, count: count, into: out, step: step)
            }
            guard let fuse else { return pass(nil) }
            fuse.global.withUnsafeBufferPointer { g in
                stepped!.withUnsafeMutableBufferPointer { next in
                    pass(.init(global: g.baseAddress!, rate: fuse.rate, next: next.baseAddress!))
                }
            }
        }
    }
    var squares: [Int: Double] = [:]
    for (u, q) in zip(accepted, acceptedSquares) { squares[u.clientIndex] = q }
    let norms = ordered.map { u in
        (squares[u.clientIndex] ?? u.delta.withUnsafeBufferPointer { b in
            FloatPointers.squaredNorm(b.baseAddress!, count: count, scale: prescale(u)) }).squareRoot()
    }
    if let bound = normBound.bound(norms: norms), !norms.allSatisfy({ $0 <= bound }) { return nil }
    var byClient: [Int: Double] = [:]
    for (u, w) in zip(accepted, weights) { byClient[u.clientIndex] = w }
    var result = AggregationResult(delta: delta, weights: byClient, rejected: rejected, clipped: [:], fallbacks: fallbacks)
    result.deltaSquares = deltaSquares
    if stepFinite == true { result.stepped = stepped }
    return result
}

/// The weighted means' weights over `accepted` (same order); throws for MWA's invalid inputs.
private func linearWeights(_ accepted: [ClientUpdate], strategy: AggregationStrategy) throws -> [Double] {
    switch strategy {
    case .fedavg:
        let sizes = accepted.map { $0.metrics["dataset_size"] ?? 0 }
        let total = sizes.reduce(0, +)
        return sizes.map { $0 / total }
    case .fedavgSamplesProcessed:
        let total = accepted.reduce(0.0) { $0 + Double($1.samples) }
        return accepted.map { Double($0.samples) / total }
    case .uniform:
        return [Double](repeating: 1 / Double(accepted.count), count: accepted.count)
    case .mwa(let config):
        let metrics = accepted.map { $0.metrics[config.metric.rawValue] ?? Double($0.samples) }
        let extra = config.combineWithSamples ? accepted.map { log(Double($0.samples)) } : nil
        return try MetricsWeightedAverage.weights(metrics: metrics, kind: config.metric.kind,
                                                  penalty: config.penalty, logExtra: extra)
    case .median, .trimmedMean, .krum, .multiKrum:
        preconditionFailure("\(strategy.name) is not a weighted mean")
    }
}

/// Why `strategy` cannot use `update`, or nil.
func rejectionReason(_ update: ClientUpdate, strategy: AggregationStrategy) -> RejectionReason? {
    weighingProblem(update, strategy: strategy).map(RejectionReason.cannotWeigh)
}

private func weighingProblem(_ update: ClientUpdate, strategy: AggregationStrategy) -> String? {
    switch strategy {
    case .fedavg:
        guard let size = update.metrics["dataset_size"] else {
            return "FedAvg weights by dataset size but the update has no 'dataset_size' metric"
        }
        return size.isFinite && size > 0 ? nil : "FedAvg needs a positive 'dataset_size' but the update reports \(size)"
    case .fedavgSamplesProcessed:
        return update.samples > 0 ? nil : "FedAvg needs a positive sample count but the update reports \(update.samples)"
    case .mwa(let config):
        let key = config.metric.rawValue
        let value = update.metrics[key] ?? (config.metric == .samples ? Double(update.samples) : nil)
        if let problem = MetricsWeightedAverage.problem(with: value, key: key) { return problem }
        if config.combineWithSamples && update.samples <= 0 {
            return "MWA × FedAvg needs a positive sample count but the update reports \(update.samples)"
        }
        return nil
    case .uniform, .median, .trimmedMean, .krum, .multiKrum:
        return nil
    }
}

/// The merged delta and one weight per accepted update (same order).
/// `prescales` (the discounts) reach only the weighted means: `aggregate` scaled the other
/// strategies' inputs already.
private func merge(_ accepted: [ClientUpdate], inputs: [UnsafePointer<Float>], scales: [Float], prescales: [Float], count: Int,
                   strategy: AggregationStrategy) throws -> ([Float], [Double]) {
    let n = accepted.count
    switch strategy {
    case .fedavg, .fedavgSamplesProcessed, .uniform, .mwa:
        let weights = try linearWeights(accepted, strategy: strategy)
        return (weightedSum(inputs, weights: weights, scales: scales, prescales: prescales, count: count), weights)
    case .median:
        return trimmedMean(inputs, scales: scales, count: count, trim: (n - 1) / 2)
    case .trimmedMean(let beta):
        // Never trim everything: at least one value per coordinate survives.
        let trim = min(Int((beta * Double(n)).rounded(.down)), (n - 1) / 2)
        return trimmedMean(inputs, scales: scales, count: count, trim: trim)
    case .krum(let f):
        guard n >= 2 * f + 3 else { throw MergeError.tooFewUpdates(strategy: "krum", required: 2 * f + 3, got: n) }
        let scores = KrumScores.compute(inputs: inputs, scales: scales, count: count, byzantine: f)
        return select(KrumScores.best(scores, m: 1), inputs: inputs, scales: scales, count: count)
    case .multiKrum(let f, let m):
        let required = max(2 * f + 3, m + f)
        guard n >= required else { throw MergeError.tooFewUpdates(strategy: "multi-krum", required: required, got: n) }
        let scores = KrumScores.compute(inputs: inputs, scales: scales, count: count, byzantine: f)
        return select(KrumScores.best(scores, m: m), inputs: inputs, scales: scales, count: count)
    }
}

/// Σ w_i·s_i·(p_i·Δ_i): the weights are computed once in Double and applied as Float, p_i·Δ_i
/// rounded to Float first (`WeightedSumKernel`).
private func weightedSum(_ inputs: [UnsafePointer<Float>], weights: [Double], scales: [Float], prescales: [Float]? = nil,
                         count: Int) -> [Float] {
    let factors = zip(weights, scales).map { Float($0 * Double($1)) }
    return MergedVector.make(count: count) { out in
        WeightedSumKernel.run(inputs: inputs, weights: factors, prescales: prescales, count: count, into: out)
    }
}

private func trimmedMean(_ inputs: [UnsafePointer<Float>], scales: [Float], count: Int, trim: Int) -> ([Float], [Double]) {
    let n = inputs.count
    var hits: [Int] = []
    let delta = MergedVector.make(count: count) { out in
        CoordinateTrimKernel.run(inputs: inputs, scales: scales, count: count, trim: trim, into: out, hits: &hits)
    }
    let perCoordinate = Double(n - 2 * trim) * Double(max(count, 1))
    // With no coordinates every survivor counts equally.
    let weights = count == 0 ? [Double](repeating: 1 / Double(n), count: n) : hits.map { Double($0) / perCoordinate }
    return (delta, weights)
}

/// Uniform mean of the selected positions; the others get weight 0.
private func select(_ chosen: [Int], inputs: [UnsafePointer<Float>], scales: [Float], count: Int) -> ([Float], [Double]) {
    var weights = [Double](repeating: 0, count: inputs.count)
    for i in chosen { weights[i] = 1 / Double(chosen.count) }
    let delta = weightedSum(chosen.map { inputs[$0] }, weights: chosen.map { weights[$0] },
                            scales: chosen.map { scales[$0] }, count: count)
    return (delta, weights)
}
