/// Which server optimiser applies the merged delta (Reddi et al. 2021, "Adaptive Federated
/// Optimization"). The merged delta Δ = Σ w_i Δ_i is a descent direction (local − global), so
/// every rule adds to the global parameters.
public enum ServerOptimizerSpec: Codable, Sendable, Hashable {
    /// x += lr · Δ (lr = 1 is plain FedAvg).
    case sgd(lr: Double)
    /// m = momentum · m + Δ; x += lr · m (Hsu et al. 2019).
    case fedavgm(lr: Double, momentum: Double)
    /// m = β1·m + (1−β1)·Δ; v = β2·v + (1−β2)·Δ²; x += lr · m / (√v + τ).
    case fedadam(lr: Double, beta1: Double, beta2: Double, tau: Double)
    /// Like FedAdam with v = v − (1−β2)·Δ²·sign(v − Δ²).
    case fedyogi(lr: Double, beta1: Double, beta2: Double, tau: Double)

    /// The optimiser's name as it appears in configs and logs.
    public var name: String {
        switch self {
        case .sgd: return "sgd"
        case .fedavgm: return "fedavgm"
        case .fedadam: return "fedadam"
        case .fedyogi: return "fedyogi"
        }
    }

    /// Throws `MergeConfigError.invalidOptimizerParameter` naming the bad parameter.
    public func validate() throws {
        func check(_ parameter: String, _ value: Double, _ ok: Bool, _ allowed: String) throws {
            guard value.isFinite, ok else {
                throw MergeConfigError.invalidOptimizerParameter(optimizer: name, parameter: parameter, value: value, allowed: allowed)
            }
        }
        switch self {
        case .sgd(let lr):
            try check("lr", lr, lr > 0, "a finite value > 0")
        case .fedavgm(let lr, let momentum):
            try check("lr", lr, lr > 0, "a finite value > 0")
            try check("momentum", momentum, momentum >= 0 && momentum < 1, "0 ≤ momentum < 1")
        case .fedadam(let lr, let beta1, let beta2, let tau), .fedyogi(let lr, let beta1, let beta2, let tau):
            try check("lr", lr, lr > 0, "a finite value > 0")
            try check("beta1", beta1, beta1 >= 0 && beta1 < 1, "0 ≤ beta1 < 1")
            try check("beta2", beta2, beta2 >= 0 && beta2 < 1, "0 ≤ beta2 < 1")
            try check("tau", tau, tau > 0, "a finite value > 0 (adaptivity, e.g. 1e-3)")
        }
    }
}

/// A server optimiser with its state (momentum m, second moment v); Codable so the server can
/// persist it with the checkpoint and resume bit for bit.
///
/// State starts as m = 0 and, for the adaptive rules, v = τ² (Reddi et al., Algorithm 2, take
/// v₋₁ ≥ τ²); there is no bias correction, as in the paper. State is sized on the first `apply`.
/// Arithmetic is per element in Double, rounded to Float on store, so results do not depend on
/// vectorisation.
public struct ServerOptimizer: Sendable, Codable, Hashable {
    /// The rule and its hyperparameters.
    public let spec: ServerOptimizerSpec
    /// First moment (FedAvgM's velocity, FedAdam/FedYogi's m); empty until the first step.
    public private(set) var m: [Float]
    /// Second moment of FedAdam/FedYogi; empty otherwise.
    public private(set) var v: [Float]
    /// Steps applied so far.
    public private(set) var steps: Int

    /// Throws `MergeConfigError` when `spec` is invalid.
    public init(spec: ServerOptimizerSpec) throws {
        try spec.validate()
        self.spec = spec
        m = []
        v = []
        steps = 0
    }

    /// Restores a saved optimiser (resume). Throws `MergeConfigError` for an invalid spec and
    /// `ServerOptimizerError.invalidState` when the vectors do not fit the rule: m and v must be
    /// empty before the first step; after it m has one value per parameter, and v too for the
    /// adaptive rules (empty otherwise).
    public init(spec: ServerOptimizerSpec, m: [Float], v: [Float], steps: Int) throws {
        try spec.validate()
        guard steps >= 0 else { throw ServerOptimizerError.invalidState(reason: "steps is \(steps)") }
        let adaptive: Bool
        switch spec {
        case .sgd: adaptive = false
            guard m.isEmpty else { throw ServerOptimizerError.invalidState(reason: "sgd keeps no momentum but m has \(m.count) values") }
        case .fedavgm: adaptive = false
        case .fedadam, .fedyogi: adaptive = true
        }
        if steps == 0 || m.isEmpty {
            guard v.isEmpty else { throw ServerOptimizerError.invalidState(reason: "v has \(v.count) values but m is empty") }
        } else if adaptive {
            guard v.count == m.count else {
                throw ServerOptimizerError.invalidState(reason: "m has \(m.count) values but v has \(v.count)")
            }
        } else {
            guard v.isEmpty else { throw ServerOptimizerError.invalidState(reason: "\(spec.name) keeps no second moment but v has \(v.count) values") }
        }
        guard !(steps == 0 && !m.isEmpty) else {
            throw ServerOptimizerError.invalidState(reason: "m has \(m.count) values before the first step")
        }
        self.spec = spec
        self.m = m
        self.v = v
        self.steps = steps
    }

    /// Applies one merged delta to `global`. Throws when the lengths differ from each other or
    /// from the optimiser's state (e.g. state resumed from another model).
    public mutating func apply(delta: [Float], to global: inout [Float]) throws {
        guard delta.count == global.count else {
            throw ServerOptimizerError.lengthMismatch(what: "merged delta", length: delta.count, expected: global.count)
        }
        let p = delta.count
        switch spec {
        case .sgd(let lr):
            for j in 0..<p { global[j] = Float(Double(global[j]) + lr * Double(delta[j])) }
        case .fedavgm(let lr, let momentum):
            try prepare(count: p, secondMoment: nil)
            for j in 0..<p {
                let mj = momentum * Double(m[j]) + Double(delta[j])
                m[j] = Float(mj)
                global[j] = Float(Double(global[j]) + lr * Double(m[j]))
            }
        case .fedadam(let lr, let beta1, let beta2, let tau):
            try prepare(count: p, secondMoment: Float(tau * tau))
            for j in 0..<p {
                let d = Double(delta[j])
                m[j] = Float(beta1 * Double(m[j]) + (1 - beta1) * d)
                v[j] = Float(beta2 * Double(v[j]) + (1 - beta2) * d * d)
                global[j] = Float(Double(global[j]) + lr * Double(m[j]) / (Double(v[j]).squareRoot() + tau))
            }
        case .fedyogi(let lr, let beta1, let beta2, let tau):
            try prepare(count: p, secondMoment: Float(tau * tau))
            for j in 0..<p {
                let d = Double(delta[j]), d2 = d * d, vj = Double(v[j])
                m[j] = Float(beta1 * Double(m[j]) + (1 - beta1) * d)
                let sign: Double = vj > d2 ? 1 : (vj < d2 ? -1 : 0)
                v[j] = Float(vj - (1 - beta2) * d2 * sign)
                global[j] = Float(Double(global[j]) + lr * Double(m[j]) / (Double(v[j]).squareRoot() + tau))
            }
        }
        steps += 1
    }

    /// SGD's step with what the server checks around it (`RoundLogic.applyServerStep`):
    /// the new global model, Float(global + lr·Δ) per element as `apply` computes it, and Σ Δ_j²
    /// summed in Float in index order (the merged update's squared norm, as the round record
    /// has always computed it). Nil, with nothing changed, unless the rule is SGD, the lengths
    /// match and every Δ_j and every new value is finite: the caller then takes the separate
    /// steps, which say what went wrong. Otherwise it counts as a step, like `apply`.
    public mutating func applySGDIfFinite(delta: [Float], to global: [Float]) -> (global: [Float], squaredNorm: Float)? {
        guard let next = applySGDStepIfFinite(delta: delta, to: global) else { return nil }
        // Apart from the step: its sequential chain of adds would keep the step scalar.
        var sum: Float = 0
        for x in delta { sum = sum + x * x }
        return (next, sum)
    }

    /// The learning rate of the plain SGD rule, the one step a merge can fuse
    /// (`aggregate(serverStep:)`); nil for the other rules.
    public var sgdRate: Double? {
        if case .sgd(let lr) = spec { lr } else { nil }
    }

    /// Counts a step the merge took in its own pass (`AggregationResult.stepped`, the bits of
    /// `applySGDStepIfFinite` on the same delta and global); false, counting nothing, for a
    /// rule other than SGD.
    public mutating func countFusedSGDStep() -> Bool {
        guard sgdRate != nil else { return false }
        steps += 1
        return true
    }

    /// `applySGDIfFinite(delta:to:)` without Σ Δ_j², for a caller that has it already
    /// (`AggregationResult.deltaSquares`): the pass runs eight values at a time. The same new
    /// model, the same declines, and it counts as a step.
    public mutating func applySGDStepIfFinite(delta: [Float], to global: [Float]) -> [Float]? {
        guard case .sgd(let lr) = spec, delta.count == global.count else { return nil }
        let exponent: UInt32 = 0x7F80_0000
        var nonFinite = false
        let next = delta.withUnsafeBufferPointer { d in
            global.withUnsafeBufferPointer { g in
                [Float](unsafeUninitializedCapacity: d.count) { out, n in
                    let count = d.count
                    var j = 0
                    if count >= 8, let dBase = d.baseAddress, let gBase = g.baseAddress, let oBase = out.baseAddress {
                        // Eight at a time: Float(Double(g) + lr·Double(x)) per lane is the scalar
                        // expression's arithmetic (exact widening, one Double multiply and add,
                        // one rounding to Float), so the bits are the same.
                        let x8 = UnsafeRawPointer(dBase), g8 = UnsafeRawPointer(gBase), o8 = UnsafeMutableRawPointer(oBase)
                        let rate = SIMD8<Double>(repeating: lr)
                        let e = SIMD8<UInt32>(repeating: exponent)
                        var bad = SIMDMask<SIMD8<Int32>>(repeating: false)
                        while j + 8 <= count {
                            let x = x8.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
                            let y = SIMD8<Float>(SIMD8<Double>(g8.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self))
                                                 + rate * SIMD8<Double>(x))
                            o8.storeBytes(of: y, toByteOffset: j * 4, as: SIMD8<Float>.self)
                            // A value is NaN or infinite exactly when its exponent bits are all ones.
                            bad .|= ((unsafeBitCast(x, to: SIMD8<UInt32>.self) & e) .== e)
                                .| ((unsafeBitCast(y, to: SIMD8<UInt32>.self) & e) .== e)
                            j += 8
                        }
                        nonFinite = any(bad)
                    }
                    while j < count {
                        let x = d[j]
                        let y = Float(Double(g[j]) + lr * Double(x))
                        out[j] = y
                        if (x.bitPattern & exponent) == exponent || (y.bitPattern & exponent) == exponent { nonFinite = true }
                        j += 1
                    }
                    n = count
                }
            }
        }
        guard !nonFinite else { return nil }
        steps += 1
        return next
    }

    private mutating func prepare(count: Int, secondMoment: Float?) throws {
        if m.isEmpty && steps == 0 {
            m = [Float](repeating: 0, count: count)
            if let v0 = secondMoment { v = [Float](repeating: v0, count: count) }
        }
        guard m.count == count else {
            throw ServerOptimizerError.lengthMismatch(what: "optimiser state", length: m.count, expected: count)
        }
    }
}

/// Why the server optimiser could not step.
public enum ServerOptimizerError: Error, CustomStringConvertible, Sendable, Equatable {
    case lengthMismatch(what: String, length: Int, expected: Int)
    /// A restored state that no sequence of steps could have produced.
    case invalidState(reason: String)

    public var description: String {
        switch self {
        case .invalidState(let reason):
            return "server optimiser: the saved state is inconsistent (\(reason))"
        case .lengthMismatch(let what, let length, let expected):
            return "server optimiser: \(what) has \(length) values but the global model has \(expected); "
                + "resume only from a state saved for the same model"
        }
    }
}
