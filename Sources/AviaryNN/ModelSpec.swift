/// Which model a run trains. Every model is a layout over one flat parameter vector.
public enum ModelSpec: Codable, Sendable, Hashable {
    /// Multinomial logistic regression: one Dense layer "fc".
    case logreg(inputs: Int, classes: Int)
    /// Multilayer perceptron with ReLU between Dense layers "fc1", "fc2", …
    /// McMahan et al.'s "2NN" is `.mlp(inputs: 784, hidden: [200, 200], classes: 10)`: 199,210 parameters.
    case mlp(inputs: Int, hidden: [Int], classes: Int)
    /// McMahan et al.'s CNN on C×H×W inputs (NCHW): conv1 5×5×32 'same', ReLU, maxpool 2×2,
    /// conv2 5×5×64 'same', ReLU, maxpool 2×2, fc1 → 512, ReLU, fc2 → classes.
    /// On 1×28×28 with 10 classes it has 1,663,370 parameters:
    /// conv1 32·1·25 + 32 = 832; conv2 64·32·25 + 64 = 51,264; fc1 3136·512 + 512 = 1,606,144;
    /// fc2 512·10 + 10 = 5,130.
    case cnn(channels: Int, height: Int, width: Int, classes: Int)
    /// A CIFAR-style ResNet with GroupNorm (see `ResNetSpec`).
    case resnet(ResNetSpec)
    /// LEAF's character-level model (see `CharLSTMSpec`).
    case charLSTM(CharLSTMSpec)
    /// A model the server does not run (`[model] kind = "external"`): clients in another
    /// language train it; the server knows only its tensors (see `ExternalModel`).
    case external(ExternalModel)

    /// McMahan et al.'s 784-200-200-10 MLP.
    public static let mcMahan2NN = ModelSpec.mlp(inputs: 784, hidden: [200, 200], classes: 10)
    /// McMahan et al.'s CNN on 1×28×28 images with 10 classes.
    public static let mcMahanCNN = ModelSpec.cnn(channels: 1, height: 28, width: 28, classes: 10)

    /// Number of trainable parameters (length of the flat vector); 0 if the spec is invalid.
    public var parameterCount: Int { layout.count }

    /// Tensor names, shapes and offsets of the flat vector, without building a network
    /// (empty if the spec is invalid; `validate()` says why).
    public var layout: ParameterLayout {
        if case let .external(e) = self { return e.layout }
        return (try? Architecture(spec: self))?.layout ?? ParameterLayout(tensors: [])
    }

    /// Whether this build can run the model (train, evaluate); false for external models.
    public var isBuiltIn: Bool { if case .external = self { false } else { true } }

    /// Features per sample (C·H·W for the CNN).
    public var inputCount: Int {
        switch self {
        case let .logreg(inputs, _), let .mlp(inputs, _, _): return inputs
        case let .cnn(channels, height, width, _): return channels * height * width
        case let .resnet(r): return r.channels * r.height * r.width
        case let .charLSTM(c): return c.context
        case .external: return 0
        }
    }

    /// Number of output classes.
    public var classes: Int {
        switch self {
        case let .logreg(_, classes), let .mlp(_, _, classes), let .cnn(_, _, _, classes): return classes
        case let .resnet(r): return r.classes
        case let .charLSTM(c): return c.classes
        case .external: return 0
        }
    }

    /// Short model name as used in topology files and error messages.
    public var name: String {
        switch self {
        case .logreg: return "logreg"
        case .mlp: return "mlp"
        case .cnn: return "cnn"
        case .resnet: return "resnet"
        case .charLSTM: return "lstm"
        case .external: return "external"
        }
    }

    /// Throws the first invalid dimension, naming it.
    public func validate() throws {
        _ = try Architecture(spec: self)
    }
}

/// What the server knows of an external model: its float tensors in vector order (names,
/// row-major shapes) and each tensor's dtype in the model (safetensors' spelling); the values
/// travel as f32 whatever the dtype. Made from the `[model] parameters` file by AviaryTopology.
public struct ExternalModel: Codable, Sendable, Hashable {
    public var layout: ParameterLayout
    /// One per tensor of `layout`: "F32", "F16", "BF16" or "F64".
    public var dtypes: [String]
    /// The file the tensors came from, for messages.
    public var source: String

    public init(layout: ParameterLayout, dtypes: [String], source: String) {
        precondition(dtypes.count == layout.tensors.count, "one dtype per tensor")
        self.layout = layout; self.dtypes = dtypes; self.source = source
    }
}
