/// Errors raised when a model specification or network configuration cannot be built.
public enum NNError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A dimension of the named model was zero or negative.
    case nonPositiveDimension(model: String, field: String, value: Int)
    /// The CNN's two 2×2 max-pools need at least 4×4 inputs.
    case inputTooSmallForCNN(height: Int, width: Int)
    /// `maxBatch` must be at least 1.
    case invalidMaxBatch(Int)
    /// A normalisation's group count does not divide a layer's channels.
    case invalidNormalisation(model: String, channels: Int, groups: Int)
    /// The model's downsampling needs larger inputs.
    case inputTooSmall(model: String, height: Int, width: Int, minimum: Int)
    /// A probability-like field (dropout rate) is outside [0, 1).
    case invalidRate(model: String, field: String, value: Double)
    /// An external model (`[model] kind = "external"`) has no architecture this build can run.
    case externalModel(source: String)

    public var description: String {
        switch self {
        case let .externalModel(source):
            return "the model is external (\(source)): this build cannot run it; its clients and evaluator run in another process (python -m aviary_client)"
        case let .nonPositiveDimension(model, field, value):
            return "model '\(model)': \(field) is \(value), but must be at least 1; fix the model section of the topology"
        case let .inputTooSmallForCNN(height, width):
            return "model 'cnn': input \(height)×\(width) is too small for two 2×2 max-pools; use inputs of at least 4×4 or the 'mlp' model"
        case let .invalidMaxBatch(n):
            return "network maxBatch is \(n), but must be at least 1; set a positive batch size"
        case let .invalidNormalisation(model, channels, groups):
            return "model '\(model)': \(groups) GroupNorm groups do not divide a layer of \(channels) channels; choose groups dividing the width (and twice and four times it)"
        case let .inputTooSmall(model, height, width, minimum):
            return "model '\(model)': input \(height)×\(width) is too small; use inputs of at least \(minimum)×\(minimum)"
        case let .invalidRate(model, field, value):
            return "model '\(model)': \(field) is \(value), but must be in [0, 1)"
        }
    }
}
