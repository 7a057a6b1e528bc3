/// One layer of a network's plan, with its dimensions and parameter offsets.
enum LayerOp {
    case dense(inputs: Int, outputs: Int, weight: Int, bias: Int)
    case relu(features: Int)
    /// `batchMajorInput`: the input is the network's NCHW input rather than a CNHW activation.
    case conv(ConvGeometry)
    case maxPool(channels: Int, height: Int, width: Int, size: Int, argmax: Int)
    case flatten(channels: Int, plane: Int)
}

/// A convolution's dimensions, parameter offsets and scratch-buffer index.
struct ConvGeometry {
    var inChannels, outChannels, height, width, kernel, padding: Int
    var weight, bias: Int
    /// The input is the network's NCHW input rather than a CNHW activation.
    var batchMajorInput: Bool
    /// Index of this layer's im2col buffer.
    var column: Int
    var outHeight: Int { Conv2D.outputSize(height, kernel: kernel, padding: padding) }
    var outWidth: Int { Conv2D.outputSize(width, kernel: kernel, padding: padding) }
    var patch: Int { inChannels * kernel * kernel }
}

/// A layer reading activation slot `input` and writing slot `output` (equal for in-place ReLU).
/// Slot 0 is the network input.
struct LayerStep {
    var op: LayerOp
    var input: Int
    var output: Int
}

/// The plan a `ModelSpec` compiles to: layers, parameter layout, and per-sample buffer sizes.
struct Architecture {
    private(set) var steps: [LayerStep] = []
    private(set) var tensors: [TensorInfo] = []
    /// Floats per sample in each activation slot; slot 0 is the input.
    private(set) var slotFeatures: [Int]
    /// Floats per sample of each conv layer's im2col buffer.
    private(set) var columnFeatures: [Int] = []
    /// Outputs per sample of each max-pool layer (one argmax each).
    private(set) var argmaxFeatures: [Int] = []
    private var parameterCount = 0

    var layout: ParameterLayout { ParameterLayout(tensors: tensors) }
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
            addConv("conv1", channels, 32, height, width, kernel: 5, batchMajorInput: true)
            addReLU()
            addMaxPool(32, height, width)
            let h2 = height / 2, w2 = width / 2
            addConv("conv2", 32, 64, h2, w2, kernel: 5, batchMajorInput: false)
            addReLU()
            addMaxPool(64, h2, w2)
            let plane = (h2 / 2) * (w2 / 2)
            addStep(.flatten(channels: 64, plane: plane), features: 64 * plane)
            addDense("fc1", 64 * plane, 512)
            addReLU()
            addDense("fc2", 512, classes)
        }
    }

    private mutating func addTensor(_ name: String, _ shape: [Int]) -> Int {
        let offset = parameterCount
        tensors.append(TensorInfo(name: name, shape: shape, offset: offset))
        parameterCount += shape.reduce(1, *)
        return offset
    }

    private mutating func addStep(_ op: LayerOp, features: Int) {
        steps.append(LayerStep(op: op, input: outputSlot, output: outputSlot + 1))
        slotFeatures.append(features)
    }

    private mutating func addDense(_ name: String, _ inputs: Int, _ outputs: Int) {
        let w = addTensor("\(name).weight", [outputs, inputs])
        let b = addTensor("\(name).bias", [outputs])
        addStep(.dense(inputs: inputs, outputs: outputs, weight: w, bias: b), features: outputs)
    }

    private mutating func addReLU() {
        steps.append(LayerStep(op: .relu(features: slotFeatures[outputSlot]), input: outputSlot, output: outputSlot))
    }

    private mutating func addConv(_ name: String, _ inC: Int, _ outC: Int, _ h: Int, _ w: Int, kernel: Int, batchMajorInput: Bool) {
        let wt = addTensor("\(name).weight", [outC, inC, kernel, kernel])
        let b = addTensor("\(name).bias", [outC])
        let g = ConvGeometry(inChannels: inC, outChannels: outC, height: h, width: w, kernel: kernel,
                             padding: kernel / 2, weight: wt, bias: b, batchMajorInput: batchMajorInput,
                             column: columnFeatures.count)
        columnFeatures.append(g.patch * g.outHeight * g.outWidth)
        addStep(.conv(g), features: outC * g.outHeight * g.outWidth)
    }

    private mutating func addMaxPool(_ channels: Int, _ h: Int, _ w: Int) {
        let outputs = channels * (h / 2) * (w / 2)
        addStep(.maxPool(channels: channels, height: h, width: w, size: 2, argmax: argmaxFeatures.count), features: outputs)
        argmaxFeatures.append(outputs)
    }

    /// Fan-in of the layer owning tensor `index`, for PyTorch's default init bounds.
    func fanIn(ofTensor index: Int) -> Int {
        let owner = tensors[index].name.split(separator: ".").first.map(String.init) ?? ""
        let weight = tensors.first { $0.name == "\(owner).weight" }!
        return weight.shape.dropFirst().reduce(1, *)
    }
}
