import AviaryNN

/// One row of the run spec's tensor table (protocol version 5): a tensor of the model, in the
/// order its values appear in MODEL's and UPDATE's f32 vector, each row-major. JSON keys are
/// `name`, `shape` and `dtype` (docs/PROTOCOL.md, "The tensor table"), the contract a client in
/// another language (python/aviary_client) reads to map the vector onto its own tensors.
public struct TensorDescriptor: Codable, Sendable, Hashable {
    /// PyTorch-style name ("fc1.weight").
    public var name: String
    /// Row-major shape, PyTorch's order (a Dense weight is (out, in)); [] for a scalar.
    public var shape: [Int]
    /// The tensor's dtype in the model, as safetensors spells it ("F32", "F16", "BF16", "F64").
    /// The vector always carries f32; a client casts to this dtype when it loads the values.
    public var dtype: String

    public init(name: String, shape: [Int], dtype: String = "F32") {
        self.name = name; self.shape = shape; self.dtype = dtype
    }

    /// Number of values (product of `shape`; 1 for a scalar).
    public var count: Int { shape.reduce(1, *) }
}

extension ParameterLayout {
    /// The built-in model's tensor table: every tensor is F32, in the engine's storage order.
    public var tensorTable: [TensorDescriptor] {
        tensors.map { TensorDescriptor(name: $0.name, shape: $0.shape) }
    }
}
