import AviaryMath

/// A feed-forward network over one flat parameter vector, with every buffer preallocated for
/// `maxBatch` samples so training steps never allocate. Not thread-safe: one owner at a time.
///
/// Activations of the conv stacks are stored CNHW internally (each convolution's sgemms write
/// column blocks of the whole batch's output); inputs, input gradients and logits are always
/// row-per-sample (NCHW for images).
public final class Network {
    /// The model this network was built from.
    public let spec: ModelSpec
    /// Names, shapes and offsets of the tensors in the flat parameter vector.
    public let layout: ParameterLayout
    /// Largest batch any call may pass.
    public let maxBatch: Int
    /// Bytes of the buffers allocated at init (parameters, gradients, activations, im2col
    /// columns, scratch for `maxBatch` samples): what one more network of this spec costs.
    public let allocatedBytes: Int
    /// Number of parameters (length of the flat vector).
    public var parameterCount: Int { layout.count }
    /// Current optimiser settings (default: plain SGD, lr 0.01).
    public private(set) var optimizer = SGDConfig(learningRate: 0.01)

    let architecture: Architecture
    let parameters: UnsafeMutablePointer<Float>
    let gradients: UnsafeMutablePointer<Float>
    var velocity: UnsafeMutablePointer<Float>?
    var anchor: UnsafeMutablePointer<Float>?
    /// Activation slots (maxBatch × features); slot 0 holds a copy of the input for `forward`.
    let slots: [UnsafeMutablePointer<Float>]
    /// Gradients of the activation slots; slot 0's entry is unused (input gradients go to the caller).
    let slotGradients: [UnsafeMutablePointer<Float>]
    let columns: [UnsafeMutablePointer<Float>]
    let columnGradient: UnsafeMutablePointer<Float>?
    /// Scratch for a `transposedInputGradient` convolution's flipped, transposed kernels.
    let flippedWeights: UnsafeMutablePointer<Float>
    /// Scratch for the direct convolutions (`Conv2D+Direct.swift`): zero-bordered planes, sized
    /// for the largest layer at maxBatch, allocated once (per call it was a fresh mmap each time).
    let directScratch: UnsafeMutablePointer<Float>
    let argmax: [UnsafeMutablePointer<Int32>]
    /// Each GroupNorm layer's per-(sample, group) mean and 1/σ.
    let statistics: [UnsafeMutablePointer<Float>]
    /// Each dropout layer's mask of the last training forward.
    let masks: [UnsafeMutablePointer<Float>]
    /// Each LSTM layer's gates (after their nonlinearities) and cells of the last training forward.
    let lstmGates: [UnsafeMutablePointer<Float>], lstmCells: [UnsafeMutablePointer<Float>]
    /// LSTM backward scratch: gate gradients (T, B, 4H) and the running cell gradient (B, H).
    let lstmGateGradient: UnsafeMutablePointer<Float>?, lstmCellGradient: UnsafeMutablePointer<Float>?
    /// Where dropout masks come from; `seedDropout` restarts it.
    var dropoutStream = RandomStream(seed: 0, purpose: .dropout, index: 0)
    /// Where `trainEpoch` gathers a shuffled batch.
    let batchInputs: UnsafeMutablePointer<Float>
    let batchLabels: UnsafeMutablePointer<Int32>
    /// The input of the last forward pass (valid until the next one) and its batch size.
    var currentInput: UnsafePointer<Float>
    var currentBatch = 0

    /// Builds the network with all parameters zero; call `initialise(seed:)` or `loadParameters`.
    public init(spec: ModelSpec, maxBatch: Int) throws {
        guard maxBatch >= 1 else { throw NNError.invalidMaxBatch(maxBatch) }
        let arch = try Architecture(spec: spec)
        self.spec = spec
        self.architecture = arch
        self.layout = arch.layout
        self.maxBatch = maxBatch
        // Every buffer is allocated zeroed, so all of it is resident: `allocatedBytes` counts it.
        var bytes = 0
        func take(_ n: Int) -> UnsafeMutablePointer<Float> { bytes += max(1, n) * MemoryLayout<Float>.stride; return Network.allocate(n) }
        let count = arch.layout.count
        parameters = take(count)
        gradients = take(count)
        slots = arch.slotFeatures.map { take($0 * maxBatch) }
        slotGradients = arch.slotFeatures.enumerated().map { take($0.offset == 0 ? 0 : $0.element * maxBatch) }
        let columnCapacities = arch.columnFeatures.indices.map { arch.columnCapacity($0, maxBatch: maxBatch) }
        columns = columnCapacities.map { take($0) }
        columnGradient = columnCapacities.max().map { take($0) }
        flippedWeights = take(arch.flippedWeightCount)
        directScratch = take(arch.steps.reduce(0) { count, step in
            guard case let .conv(g) = step.op else { return count }
            return max(count, Conv2D.directScratchCount(g, batch: maxBatch))
        })
        argmax = arch.argmaxFeatures.map { n in
            bytes += max(1, n * maxBatch) * 4
            let p = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, n * maxBatch))
            p.initialize(repeating: 0, count: max(1, n * maxBatch))
            return p
        }
        statistics = arch.statisticsFeatures.map { take($0 * maxBatch) }
        masks = arch.maskFeatures.map { take($0 * maxBatch) }
        lstmGates = arch.lstmGateFeatures.map { take($0 * maxBatch) }
        lstmCells = arch.lstmCellFeatures.map { take($0 * maxBatch) }
        lstmGateGradient = arch.lstmGateFeatures.max().map { take($0 * maxBatch) }
        lstmCellGradient = arch.lstmCellFeatures.max().map { take($0 * maxBatch) }
        batchInputs = take(spec.inputCount * maxBatch)
        bytes += maxBatch * 4
        batchLabels = UnsafeMutablePointer<Int32>.allocate(capacity: maxBatch)
        batchLabels.initialize(repeating: 0, count: maxBatch)
        allocatedBytes = bytes
        currentInput = UnsafePointer(slots[0])
    }

    deinit {
        for p in [parameters, gradients, batchInputs, flippedWeights, directScratch] + slots + slotGradients + columns + statistics + masks + lstmGates + lstmCells { p.deallocate() }
        lstmGateGradient?.deallocate()
        lstmCellGradient?.deallocate()
        velocity?.deallocate()
        anchor?.deallocate()
        columnGradient?.deallocate()
        for p in argmax { p.deallocate() }
        batchLabels.deallocate()
    }

    /// 64-byte aligned, zeroed floats (at least one, so empty slots are still valid pointers).
    static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        let n = max(1, count)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: n * MemoryLayout<Float>.stride, alignment: 64)
        return raw.initializeMemory(as: Float.self, repeating: 0, count: n)
    }

    /// PyTorch's default init for Linear and Conv2d: weights by Kaiming-uniform with a = √5,
    /// which is U(±1/√fan_in), and biases U(±1/√fan_in). Tensor i draws from
    /// `RandomStream(seed:, purpose: .initialisation, index: i)`, so changing one layer's size
    /// leaves the others' values alone. Normalisation layers start at scale 1, shift 0 (as
    /// PyTorch's). Also clears optimiser momentum.
    public func initialise(seed: UInt64) {
        for (i, tensor) in layout.tensors.enumerated() {
            let p = parameters + tensor.offset
            switch architecture.initialisers[i] {
            case let .uniform(fanIn):
                var rng = RandomStream(seed: seed, purpose: .initialisation, index: UInt64(i))
                let bound = 1 / Double(fanIn).squareRoot()
                for j in 0..<tensor.count { p[j] = Float(rng.uniform(-bound, bound)) }
            case let .constant(value):
                p.update(repeating: value, count: tensor.count)
            case .normal:
                var rng = RandomStream(seed: seed, purpose: .initialisation, index: UInt64(i))
                for j in 0..<tensor.count { p[j] = Float(rng.normal()) }
            }
        }
        velocity?.update(repeating: 0, count: parameterCount)
    }

    /// Restarts the stream dropout masks are drawn from: `RandomStream(seed:, purpose: .dropout,
    /// index:)`. Every training forward pass draws its masks from it in layer order, so the
    /// same seed, data and parameters drop the same units. Models without dropout ignore it.
    public func seedDropout(seed: UInt64, index: UInt64) {
        dropoutStream = RandomStream(seed: seed, purpose: .dropout, index: index)
    }

    /// Direct access to the flat parameter vector (length `parameterCount`).
    public func withParameters<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeMutableBufferPointer(start: parameters, count: parameterCount))
    }

    /// Direct access to the flat gradient vector that `backward` accumulates into.
    public func withGradients<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeMutableBufferPointer(start: gradients, count: parameterCount))
    }

    /// Replaces all parameters; `p.count` must equal `parameterCount`.
    public func loadParameters(_ p: [Float]) {
        precondition(p.count == parameterCount, "loadParameters: got \(p.count) values, the \(spec.name) model has \(parameterCount)")
        p.withUnsafeBufferPointer { parameters.update(from: $0.baseAddress!, count: parameterCount) }
    }

    /// A copy of the flat parameter vector.
    public func parametersArray() -> [Float] {
        Array(UnsafeBufferPointer(start: parameters, count: parameterCount))
    }

    /// Sets the flat gradient buffer to zero.
    public func zeroGradients() {
        gradients.update(repeating: 0, count: parameterCount)
    }

    /// Sets the optimiser and resets its momentum. `anchor` is w_global for FedProx (required
    /// when `config.proximalMu` ≠ 0, length `parameterCount`) and is copied.
    public func setOptimizer(_ config: SGDConfig, anchor newAnchor: [Float]?) {
        precondition(config.proximalMu == 0 || newAnchor != nil, "setOptimizer: FedProx (proximalMu ≠ 0) needs the global parameters as anchor")
        optimizer = config
        if let newAnchor {
            precondition(newAnchor.count == parameterCount, "setOptimizer: anchor has \(newAnchor.count) values, the model has \(parameterCount)")
            let a = anchor ?? Network.allocate(parameterCount)
            newAnchor.withUnsafeBufferPointer { a.update(from: $0.baseAddress!, count: parameterCount) }
            anchor = a
        }
        if config.momentum != 0 {
            let v = velocity ?? Network.allocate(parameterCount)
            v.update(repeating: 0, count: parameterCount)
            velocity = v
        }
    }

    /// One SGD step from the flat gradient buffer (which is left unchanged):
    /// d = g + wd·w + μ·(w − anchor); v = momentum·v + d; w −= lr·v (v = d without momentum).
    public func applyOptimizerStep() {
        let n = parameterCount
        let lr = optimizer.learningRate, wd = optimizer.weightDecay, m = optimizer.momentum
        let w = parameters, g = gradients
        // Without an anchor the proximal term is off; pointing at w makes (w − a) exactly 0.
        let mu = anchor == nil ? 0 : optimizer.proximalMu
        let a = UnsafePointer(anchor ?? parameters)
        if m != 0, let v = velocity {
            for i in 0..<n {
                let d = g[i] + wd * w[i] + mu * (w[i] - a[i])
                let vi = m * v[i] + d
                v[i] = vi
                w[i] -= lr * vi
            }
        } else {
            for i in 0..<n {
                let d = g[i] + wd * w[i] + mu * (w[i] - a[i])
                w[i] -= lr * d
            }
        }
    }
}
