/// One layer of a network's plan, with its dimensions and parameter offsets.
enum LayerOp {
    case dense(inputs: Int, outputs: Int, weight: Int, bias: Int)
    case relu(features: Int)
    /// `batchMajorInput`: the input is the network's NCHW input rather than a CNHW activation.
    case conv(ConvGeometry)
    /// `rectified`: a ReLU before the pool is fused into it (`MaxPool2D.rectifiedForward`); the
    /// input slot then keeps the pre-activation. `bias`: offset of the preceding convolution's
    /// bias, whose gradient the pool's backward sums over its pooled gradient (a quarter of the
    /// values the convolution would sum) instead of the convolution (`ConvGeometry.biasInPool`).
    case maxPool(channels: Int, height: Int, width: Int, size: Int, argmax: Int, rectified: Bool, bias: Int?)
    case flatten(channels: Int, plane: Int)
    /// `statistics`: index of the buffer keeping each (sample, group)'s mean and 1/σ. `rectified`:
    /// the ReLU after it is fused in (`addReLU`): the output slot holds max(y, 0), and backward
    /// masks dOut by that output as it reads it.
    case groupNorm(channels: Int, plane: Int, groups: Int, weight: Int, bias: Int, statistics: Int, rectified: Bool)
    /// CNHW (C, B, P) → rows (B, C).
    case globalAveragePool(channels: Int, plane: Int)
    /// In place; `mask`: index of the layer's mask buffer.
    case dropout(features: Int, rate: Float, mask: Int)
    /// out = input + slot `shortcut` (then max(·, 0) when `rectified`, as `groupNorm`'s).
    case residualAdd(features: Int, shortcut: Int, rectified: Bool)
    /// Token indices (B, T) → (T, B, dim) rows of the table at `table`.
    case embedding(steps: Int, dim: Int, vocabulary: Int, table: Int)
    case lstm(LSTMGeometry)
    /// (T, B, features) → the last step's (B, features).
    case lastStep(steps: Int, features: Int)
}

/// An LSTM layer's dimensions, parameter offsets and cache index.
struct LSTMGeometry {
    var steps, inputs, hidden: Int
    var weightIH, weightHH, biasIH, biasHH: Int
    /// Index of this layer's gate and cell caches.
    var cache: Int
}

/// A convolution's dimensions, parameter offsets and scratch-buffer index.
struct ConvGeometry {
    var inChannels, outChannels, height, width, kernel, padding: Int
    var stride = 1
    var weight: Int
    /// nil for a convolution followed by a normalisation, whose shift makes a bias redundant.
    var bias: Int?
    /// The bias gradient is summed by the rectified max-pool that follows (`LayerOp.maxPool`'s
    /// `bias`), so this layer's backward leaves the bias alone. (The forward still writes the bias
    /// into the output before its sgemm adds to it: OpenBLAS zeroes C for beta = 0 in a pass that
    /// costs more than the bias fill, so adding the bias in the pool instead was slower.)
    var biasInPool = false
    /// The input is the network's NCHW input rather than a CNHW activation.
    var batchMajorInput: Bool
    /// Index of this layer's im2col buffer.
    var column: Int
    // Every convolution runs in chunks of samples whose columns fit in L2 (`Conv2D+Chunked.swift`),
    // so its column buffer holds one chunk and backward rebuilds the columns from the input (an
    // extra im2col per layer, from cache). ResNet's layers share one buffer (one per layer would
    // keep ~6 MB per sample for ResNet-20); each CNN convolution has its own.
    /// The input gradient is the convolution of dOut with the flipped, transposed kernels (one
    /// im2col of dOut, one sgemm with depth Cout·K·K writing dInp directly) rather than the column
    /// gradient (depth Cout) and col2im: set for "same" stride-1 convolutions inside the network:
    /// ResNet's 3×3 convs with Cout ≤ Cin, whose dOut columns fit the shared column buffer.
    var transposedInputGradient = false
    /// The input gradient is the flipped-kernel convolution where it runs directly
    /// (`Conv2D.directInputGradient`, AVX-512) and the column gradient elsewhere: the CNN's conv2,
    /// whose column-gradient sgemms (Cin·K² = 800 rows, depth Cout = 64, one sample of 196 columns
    /// per chunk) and col2im cost more than the direct convolution. The sgemm probe keeps timing
    /// the column-gradient shapes (`Network.trainingGemms`), what an all-sgemm engine would run.
    var directTransposedInputGradient = false
    var outHeight: Int { Conv2D.outputSize(height, kernel: kernel, padding: padding, stride: stride) }
    var outWidth: Int { Conv2D.outputSize(width, kernel: kernel, padding: padding, stride: stride) }
    var patch: Int { inChannels * kernel * kernel }
}

/// A layer reading activation slot `input` and writing slot `output` (equal for in-place ReLU).
/// Slot 0 is the network input.
struct LayerStep {
    var op: LayerOp
    var input: Int
    var output: Int
    /// A slot read by two layers (a residual block's input) gets both gradients: the layer
    /// that runs first in backward order writes its share, the other one adds to it.
    var accumulatesInput = false
    /// The same for a residual join's `shortcut` slot.
    var accumulatesShortcut = false
    /// A GroupNorm (not rectified) whose output only the residual join right after it reads: its
    /// forward adds the join's shortcut (and the join's ReLU) and writes the join's output slot,
    /// the join's own forward is skipped, and its own output slot is never written. Backward is
    /// unchanged (the join hands its gradient to this slot's gradient as before).
    var writesJoin = false
}

/// How `Network.initialise` fills a tensor.
enum TensorInit {
    /// PyTorch's default for Linear and Conv2d: U(±1/√fanIn).
    case uniform(fanIn: Int)
    /// A constant (normalisation scales 1, shifts 0).
    case constant(Float)
    /// N(0, 1), PyTorch's default for Embedding.
    case normal
}

/// The plan a `ModelSpec` compiles to: layers, parameter layout, and per-sample buffer sizes.
struct Architecture {
    private(set) var steps: [LayerStep] = []
    private(set) var tensors: [TensorInfo] = []
    /// Floats per sample in each activation slot; slot 0 is the input.
    private(set) var slotFeatures: [Int]
    /// Floats per sample of each conv layer's im2col buffer.
    private(set) var columnFeatures: [Int] = []
    /// Floats of the largest flipped kernel a `transposedInputGradient` convolution needs (Cin·Cout·K·K).
    private(set) var flippedWeightCount = 0
    /// Outputs per sample of each max-pool layer (one argmax each).
    private(set) var argmaxFeatures: [Int] = []
    /// Floats per sample of each GroupNorm layer's statistics (2 per group).
    private(set) var statisticsFeatures: [Int] = []
    /// Floats per sample of each dropout layer's mask.
    private(set) var maskFeatures: [Int] = []
    /// Floats per sample of each LSTM layer's gate cache (T·4H) and cell cache (T·H).
    private(set) var lstmGateFeatures: [Int] = [], lstmCellFeatures: [Int] = []
    /// How each tensor of `tensors` is initialised.
    private(set) var initialisers: [TensorInit] = []
    private var parameterCount = 0

    var layout: ParameterLayout { ParameterLayout(tensors: tensors) }

    /// Floats column buffer `i` needs for batches up to `maxBatch`. It holds one chunk: n samples
    /// of at most `columnFeatures[i]` floats each, where n·rows·plane ≤ max(rows·plane,
    /// `Conv2D.chunkBudget`) (`Conv2D.chunkSamples`).
    func columnCapacity(_ i: Int, maxBatch: Int) -> Int {
        min(columnFeatures[i] * maxBatch, max(columnFeatures[i], Conv2D.chunkBudget))
    }
    var outputSlot: Int { slotFeatures.count - 1 }

    init(spec: ModelSpec) throws {
        func positive(_ field: String, _ value: Int) throws {
            if value < 1 { throw NNError.nonPositiveDimension(model: spec.name, field: field, value: value) }
        }
        try positive("classes", spec.classes)
        switch spec {
        case let .logreg(inputs, classes):
            try positive("inputs", inputs)
            slotFeatures = [inputs]
            addDense("fc", inputs, classes)
        case let .mlp(inputs, hidden, classes):
            try positive("inputs", inputs)
            for (i, h) in hidden.enumerated() { try positive("hidden[\(i)]", h) }
            slotFeatures = [inputs]
            var width = inputs
            for (i, h) in hidden.enumerated() {
                addDense("fc\(i + 1)", width, h)
                addReLU()
                width = h
            }
            addDense("fc\(hidden.count + 1)", width, classes)
        case let .cnn(channels, height, width, classes):
            try positive("channels", channels)
            try positive("height", height)
            try positive("width", width)
            guard height >= 4 && width >= 4 else { throw NNError.inputTooSmallForCNN(height: height, width: width) }
            slotFeatures = [channels * height * width]
            // Each ReLU is fused into the max-pool after it.
            addConv("conv1", channels, 32, height, width, kernel: 5, batchMajorInput: true)
            addMaxPool(32, height, width, rectified: true)
            let h2 = height / 2, w2 = width / 2
            addConv("conv2", 32, 64, h2, w2, kernel: 5, batchMajorInput: false)
            addMaxPool(64, h2, w2, rectified: true)
            let plane = (h2 / 2) * (w2 / 2)
            addStep(.flatten(channels: 64, plane: plane), features: 64 * plane)
            addDense("fc1", 64 * plane, 512)
            addReLU()
            addDense("fc2", 512, classes)
        case let .resnet(r):
            try positive("channels", r.channels)
            try positive("height", r.height)
            try positive("width", r.width)
            try positive("blocks_per_stage", r.blocksPerStage)
            try positive("base_width", r.baseWidth)
            try positive("groups", r.groups)
            try ResNetBuilder.check(r)
            slotFeatures = [r.channels * r.height * r.width]
            ResNetBuilder.build(r, into: &self)
        case let .charLSTM(c):
            for (field, value) in [("vocabulary", c.vocabulary), ("context", c.context), ("embedding", c.embedding),
                                   ("hidden", c.hidden), ("layers", c.layers)] { try positive(field, value) }
            slotFeatures = [c.context]
            addCharLSTM(c)
        case let .external(e):
            throw NNError.externalModel(source: e.source)
        }
        markAccumulatingReaders()
        markJoinedNorms()
    }

    /// Sets `writesJoin` on each GroupNorm whose output feeds only the residual join after it.
    private mutating func markJoinedNorms() {
        func reads(_ step: LayerStep, _ slot: Int) -> Bool {
            if step.input == slot { return true }
            if case let .residualAdd(_, shortcut, _) = step.op { return shortcut == slot }
            return false
        }
        for i in steps.indices.dropLast() {
            guard case .groupNorm(_, _, _, _, _, _, false) = steps[i].op, case .residualAdd = steps[i + 1].op,
                  steps[i + 1].input == steps[i].output else { continue }
            let slot = steps[i].output
            if steps.indices.allSatisfy({ $0 == i + 1 || !reads(steps[$0], slot) }) { steps[i].writesJoin = true }
        }
    }

    /// Sets `accumulatesInput`/`accumulatesShortcut` on every layer that is not the first, in
    /// backward order, to write a slot's gradient. In-place layers (ReLU, dropout) transform the
    /// gradient that is already there and write nothing new.
    private mutating func markAccumulatingReaders() {
        var written = Set<Int>()
        for i in steps.indices.reversed() where steps[i].input != steps[i].output {
            steps[i].accumulatesInput = !written.insert(steps[i].input).inserted
            if case let .residualAdd(_, shortcut, _) = steps[i].op {
                steps[i].accumulatesShortcut = !written.insert(shortcut).inserted
            }
            // Only convolutions and residual joins know how to add to another reader's gradient.
            switch steps[i].op {
            case .conv, .residualAdd: break
            default: precondition(!steps[i].accumulatesInput, "layer \(steps[i].op) reads a slot another layer also reads")
            }
        }
    }

    mutating func addTensor(_ name: String, _ shape: [Int], initialiser: TensorInit) -> Int {
        let offset = parameterCount
        tensors.append(TensorInfo(name: name, shape: shape, offset: offset))
        initialisers.append(initialiser)
        parameterCount += shape.reduce(1, *)
        return offset
    }

    /// Appends a layer reading `input` (default: the last slot) into a new slot; returns that slot.
    @discardableResult
    mutating func addStep(_ op: LayerOp, features: Int, input: Int? = nil) -> Int {
        steps.append(LayerStep(op: op, input: input ?? outputSlot, output: outputSlot + 1))
        slotFeatures.append(features)
        return outputSlot
    }

    mutating func addDense(_ name: String, _ inputs: Int, _ outputs: Int) {
        let w = addTensor("\(name).weight", [outputs, inputs], initialiser: .uniform(fanIn: inputs))
        let b = addTensor("\(name).bias", [outputs], initialiser: .uniform(fanIn: inputs))
        addStep(.dense(inputs: inputs, outputs: outputs, weight: w, bias: b), features: outputs)
    }

    /// A ReLU on the last slot, in place. Right after a GroupNorm or a residual join writing that
    /// slot it is fused into that layer instead (`rectified`): a separate ReLU read and wrote a
    /// whole activation tensor forward and its gradient backward (ResNet-20's are 2 MB at batch 32
    /// in the first stage, past L2), and the fused layers compute the same values.
    mutating func addReLU() {
        if let last = steps.indices.last, steps[last].output == outputSlot {
            switch steps[last].op {
            case let .groupNorm(channels, plane, groups, weight, bias, statistics, false):
                steps[last].op = .groupNorm(channels: channels, plane: plane, groups: groups, weight: weight, bias: bias,
                                            statistics: statistics, rectified: true)
                return
            case let .residualAdd(features, shortcut, false):
                steps[last].op = .residualAdd(features: features, shortcut: shortcut, rectified: true)
                return
            default: break
            }
        }
        steps.append(LayerStep(op: .relu(features: slotFeatures[outputSlot]), input: outputSlot, output: outputSlot))
    }

    mutating func addDropout(rate: Float) {
        let features = slotFeatures[outputSlot]
        steps.append(LayerStep(op: .dropout(features: features, rate: rate, mask: maskFeatures.count),
                               input: outputSlot, output: outputSlot))
        maskFeatures.append(features)
    }

    /// The CNN's "same" convolution with a bias and its own column buffer. It runs chunk by chunk
    /// like ResNet's: a batch-wide column matrix (20 MB for conv2 at batch 32)
    /// would be written and read back from memory, a chunk's stays in L2. Inside the network its
    /// input gradient is the direct flipped-kernel convolution where that runs
    /// (`directTransposedInputGradient`), else the column gradient Wᵀ·dOut (dOut itself is the
    /// sgemm's operand) and `Conv2D.sameCol2im`: for conv2 (Cout·K² = 1,600 rows of dOut columns
    /// against Cin·K² = 800 column-gradient rows) that moves half the floats the flipped-kernel
    /// form's im2col of dOut did.
    private mutating func addConv(_ name: String, _ inC: Int, _ outC: Int, _ h: Int, _ w: Int, kernel: Int, batchMajorInput: Bool) {
        let fanIn = inC * kernel * kernel
        let wt = addTensor("\(name).weight", [outC, inC, kernel, kernel], initialiser: .uniform(fanIn: fanIn))
        let b = addTensor("\(name).bias", [outC], initialiser: .uniform(fanIn: fanIn))
        var g = ConvGeometry(inChannels: inC, outChannels: outC, height: h, width: w, kernel: kernel,
                             padding: kernel / 2, weight: wt, bias: b, batchMajorInput: batchMajorInput,
                             column: columnFeatures.count)
        if !batchMajorInput && kernel % 2 == 1 {
            g.directTransposedInputGradient = true
            flippedWeightCount = max(flippedWeightCount, inC * outC * kernel * kernel)
        }
        columnFeatures.append(g.patch * g.outHeight * g.outWidth)
        addStep(.conv(g), features: outC * g.outHeight * g.outWidth)
    }

    /// A bias-free convolution whose column buffer is the network's one shared buffer (index 0,
    /// grown to the largest layer): backward rebuilds its columns. Returns the output slot.
    @discardableResult
    mutating func addSharedColumnConv(_ name: String, input: Int, _ inC: Int, _ outC: Int, _ h: Int, _ w: Int,
                                      kernel: Int, stride: Int) -> Int {
        let wt = addTensor("\(name).weight", [outC, inC, kernel, kernel], initialiser: .uniform(fanIn: inC * kernel * kernel))
        var g = ConvGeometry(inChannels: inC, outChannels: outC, height: h, width: w, kernel: kernel,
                             padding: kernel / 2, stride: stride, weight: wt, bias: nil, batchMajorInput: input == 0,
                             column: 0)
        if stride == 1 && kernel % 2 == 1 && input != 0 && outC <= inC {
            g.transposedInputGradient = true
            flippedWeightCount = max(flippedWeightCount, inC * outC * kernel * kernel)
        }
        let needed = g.patch * g.outHeight * g.outWidth
        if columnFeatures.isEmpty { columnFeatures = [needed] } else { columnFeatures[0] = max(columnFeatures[0], needed) }
        return addStep(.conv(g), features: outC * g.outHeight * g.outWidth, input: input)
    }

    /// Embedding, `layers` LSTM layers (PyTorch names lstm.weight_ih_l0, …), the last step, Dense "fc".
    private mutating func addCharLSTM(_ c: CharLSTMSpec) {
        // PyTorch's defaults: Embedding N(0, 1), LSTM U(±1/√hidden) for weights and biases.
        let table = addTensor("embedding.weight", [c.vocabulary, c.embedding], initialiser: .normal)
        addStep(.embedding(steps: c.context, dim: c.embedding, vocabulary: c.vocabulary, table: table),
                features: c.context * c.embedding)
        var inputs = c.embedding
        for l in 0..<c.layers {
            let h = c.hidden, bound = TensorInit.uniform(fanIn: h)
            let g = LSTMGeometry(steps: c.context, inputs: inputs, hidden: h,
                                 weightIH: addTensor("lstm.weight_ih_l\(l)", [4 * h, inputs], initialiser: bound),
                                 weightHH: addTensor("lstm.weight_hh_l\(l)", [4 * h, h], initialiser: bound),
                                 biasIH: addTensor("lstm.bias_ih_l\(l)", [4 * h], initialiser: bound),
                                 biasHH: addTensor("lstm.bias_hh_l\(l)", [4 * h], initialiser: bound),
                                 cache: lstmGateFeatures.count)
            lstmGateFeatures.append(c.context * 4 * h)
            lstmCellFeatures.append(c.context * h)
            addStep(.lstm(g), features: c.context * h)
            inputs = h
        }
        addStep(.lastStep(steps: c.context, features: c.hidden), features: c.hidden)
        addDense("fc", c.hidden, c.classes)
    }

    /// GroupNorm over the last slot's (channels, plane) activations: scale 1, shift 0 at start.
    mutating func addGroupNorm(_ name: String, channels: Int, plane: Int, groups: Int) {
        let w = addTensor("\(name).weight", [channels], initialiser: .constant(1))
        let b = addTensor("\(name).bias", [channels], initialiser: .constant(0))
        addStep(.groupNorm(channels: channels, plane: plane, groups: groups, weight: w, bias: b,
                           statistics: statisticsFeatures.count, rectified: false), features: channels * plane)
        statisticsFeatures.append(2 * groups)
    }

    /// A 2×2 max-pool; `rectified` fuses the ReLU before it, and then the bias gradient of a
    /// convolution right before it (writing the pool's input slot, read by nothing else) is summed by the pool.
    private mutating func addMaxPool(_ channels: Int, _ h: Int, _ w: Int, rectified: Bool) {
        let outputs = channels * (h / 2) * (w / 2)
        var bias: Int?
        if rectified, let last = steps.indices.last, case var .conv(g) = steps[last].op, let b = g.bias,
           steps[last].output == outputSlot {
            g.biasInPool = true
            steps[last].op = .conv(g)
            bias = b
        }
        addStep(.maxPool(channels: channels, height: h, width: w, size: 2, argmax: argmaxFeatures.count, rectified: rectified,
                         bias: bias),
                features: outputs)
        argmaxFeatures.append(outputs)
    }
}
