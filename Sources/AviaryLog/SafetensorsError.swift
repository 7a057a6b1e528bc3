/// Why a safetensors file could not be written or read; every case names the file.
public enum SafetensorsError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The caller's tensors and values do not fit together (nothing was written).
    case invalidInput(path: String, reason: String)
    /// A system call failed (open, read, write, fsync, rename) with errno's message.
    case io(path: String, operation: String, message: String)
    /// The file is shorter than its own header says.
    case truncated(path: String, size: Int, needed: Int)
    /// The header length field is implausible for this file.
    case headerLength(path: String, length: UInt64, available: Int)
    /// The JSON header is not what the format requires.
    case invalidHeader(path: String, reason: String)
    /// One tensor's entry is malformed (dtype, shape, offsets, size).
    case invalidTensor(path: String, tensor: String, reason: String)
    /// Tensors overlap, leave holes, or do not cover the byte buffer.
    case layout(path: String, reason: String)
    /// The tensor's dtype cannot be converted to Float.
    case unsupportedDType(path: String, tensor: String, dtype: String)
    /// A requested tensor is not in the file.
    case missingTensor(path: String, tensor: String)

    public var description: String {
        switch self {
        case .invalidInput(let path, let reason):
            return "cannot write safetensors \(path): \(reason)"
        case .io(let path, let operation, let message):
            return "\(path): \(operation) failed: \(message); check the path and permissions"
        case .truncated(let path, let size, let needed):
            return "\(path) is truncated (\(size) bytes, needs \(needed)); the file was not completely written, "
                + "use an earlier checkpoint"
        case .headerLength(let path, let length, let available):
            return "\(path) is not a safetensors file: header length \(length) exceeds the \(available) bytes available"
        case .invalidHeader(let path, let reason):
            return "\(path) has an invalid safetensors header: \(reason)"
        case .invalidTensor(let path, let tensor, let reason):
            return "\(path): tensor '\(tensor)' is invalid: \(reason)"
        case .layout(let path, let reason):
            return "\(path) has an invalid safetensors data layout: \(reason)"
        case .unsupportedDType(let path, let tensor, let dtype):
            return "\(path): tensor '\(tensor)' has dtype \(dtype); only F32, F16, BF16 and F64 convert to Float"
        case .missingTensor(let path, let tensor):
            return "\(path) has no tensor '\(tensor)'; was it written for a different model?"
        }
    }
}
