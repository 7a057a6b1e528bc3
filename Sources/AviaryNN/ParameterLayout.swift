/// One named tensor inside the flat parameter vector (PyTorch-style name, row-major shape).
public struct TensorInfo: Sendable, Hashable, Codable {
    /// PyTorch-style name, e.g. "fc1.weight" or "conv2.bias".
    public let name: String
    /// Row-major shape, PyTorch order: Dense weight (out, in), Conv weight (out, in, kH, kW).
    public let shape: [Int]
    /// First element of this tensor in the flat vector.
    public let offset: Int
    /// Number of elements (product of `shape`).
    public var count: Int { shape.reduce(1, *) }

    public init(name: String, shape: [Int], offset: Int) {
        self.name = name
        self.shape = shape
        self.offset = offset
    }
}

/// The names, shapes and offsets of all tensors over one contiguous parameter vector,
/// in the order PyTorch's `parameters_to_vector` would produce them.
public struct ParameterLayout: Sendable, Hashable, Codable {
    /// Tensors in storage order; each starts where the previous one ends.
    public let tensors: [TensorInfo]
    /// Total number of parameters.
    public var count: Int { tensors.last.map { $0.offset + $0.count } ?? 0 }

    public init(tensors: [TensorInfo]) { self.tensors = tensors }

    /// The tensor with this name, if any.
    public func tensor(named name: String) -> TensorInfo? { tensors.first { $0.name == name } }
}
