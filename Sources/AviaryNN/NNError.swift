/// Errors raised when a model specification or network configuration cannot be built.
public enum NNError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A dimension of the named model was zero or negative.
    case nonPositiveDimension(model: String, field: String, value: Int)
    /// The CNN's two 2×2 max-pools need at least 4×4 inputs.
    case inputTooSmallForCNN(height: Int, width: Int)
    /// `maxBatch` must be at least 1.
    case invalidMaxBatch(Int)

    public var description: String {
        switch self {
        case let .nonPositiveDimension(model, field, value):
            return "model '\(model)': \(field) is \(value), but must be at least 1; fix the model section of the topology"
        case let .inputTooSmallForCNN(height, width):
            return "model 'cnn': input \(height)×\(width) is too small for two 2×2 max-pools; use inputs of at least 4×4 or the 'mlp' model"
        case let .invalidMaxBatch(n):
            return "network maxBatch is \(n), but must be at least 1; set a positive batch size"
        }
    }
}
