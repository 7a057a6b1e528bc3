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

    /// McMahan et al.'s 784-200-200-10 MLP.
    public static let mcMahan2NN = ModelSpec.mlp(inputs: 784, hidden: [200, 200], classes: 10)
    /// McMahan et al.'s CNN on 1×28×28 images with 10 classes.
    public static let mcMahanCNN = ModelSpec.cnn(channels: 1, height: 28, width: 28, classes: 10)

    /// Number of trainable parameters (length of the flat vector); 0 if the spec is invalid.
    public var parameterCount: Int { (try? Architecture(spec: self))?.layout.count ?? 0 }

    /// Tensor names, shapes and offsets of the flat vector, without building a network
    /// (empty if the spec is invalid; `validate()` says why).
    public var layout: ParameterLayout { (try? Architecture(spec: self))?.layout ?? ParameterLayout(tensors: []) }

    /// Features per sample (C·H·W for the CNN).
    public var inputCount: Int {
        switch self {
        case let .logreg(inputs, _), let .mlp(inputs, _, _): return inputs
        case let .cnn(channels, height, width, _): return channels * height * width
        case let .resnet(r): return r.channels * r.height * r.width
        case let .charLSTM(c): return c.context
        }
    }

    /// Number of output classes.
    public var classes: Int {
        switch self {
        case let .logreg(_, classes), let .mlp(_, _, classes), let .cnn(_, _, _, classes): return classes
        case let .resnet(r): return r.classes
        case let .charLSTM(c): return c.classes
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
        }
    }

    /// Throws the first invalid dimension, naming it.
    public func validate() throws {
        _ = try Architecture(spec: self)
    }
}
