/// One tensor's entry in a safetensors header.
public struct SafetensorsTensor: Sendable, Hashable {
    /// The tensor's name (header key).
    public var name: String
    /// Dimensions, outermost first; [] is a scalar.
    public var shape: [Int]
    /// The format's dtype tag, e.g. "F32".
    public var dtype: String
    /// Byte range within the data buffer (after the header).
    public var byteRange: Range<Int>

    /// Number of elements (product of the shape).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A safetensors file read into memory and validated; see `Safetensors.read(path:)`.
public struct SafetensorsFile: Sendable {
    /// Where it was read from (used in error messages).
    public let path: String
    /// Tensors in data-buffer order.
    public let tensors: [SafetensorsTensor]
    /// The header's `__metadata__` map (empty when absent).
    public let metadata: [String: String]
    let bytes: [UInt8]
    let dataStart: Int

    /// The entry for `name`, or nil.
    public func tensor(named name: String) -> SafetensorsTensor? {
        tensors.first { $0.name == name }
    }

    /// The values of `name` converted to Float, in row-major order.
    public func values(named name: String) throws -> [Float] {
        guard let t = tensor(named: name) else { throw SafetensorsError.missingTensor(path: path, tensor: name) }
        var out: [Float] = []
        out.reserveCapacity(t.elementCount)
        try append(t, to: &out)
        return out
    }

    /// The named tensors' values back to back, e.g. a model's flat parameter vector in layout order.
    public func flatValues(order: [String]) throws -> [Float] {
        let selected = try order.map { name in
            guard let t = tensor(named: name) else { throw SafetensorsError.missingTensor(path: path, tensor: name) }
            return t
        }
        var out: [Float] = []
        out.reserveCapacity(selected.reduce(0) { $0 + $1.elementCount })
        for t in selected { try append(t, to: &out) }
        return out
    }

    /// All tensors' values back to back in data-buffer order.
    public func flatValues() throws -> [Float] { try flatValues(order: tensors.map(\.name)) }

    private func append(_ t: SafetensorsTensor, to out: inout [Float]) throws {
        let count = t.elementCount
        try bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress! + dataStart + t.byteRange.lowerBound
            switch t.dtype {
            case "F32" where UInt32(1).littleEndian == 1:
                // The file's bytes are the values' memory on a little-endian host: one copy.
                let start = out.count
                out.append(contentsOf: repeatElement(0, count: count))
                out.withUnsafeMutableBytes { dst in
                    UnsafeMutableRawBufferPointer(rebasing: dst[(4 * start)..<(4 * (start + count))])
                        .copyMemory(from: UnsafeRawBufferPointer(start: base, count: 4 * count))
                }
            case "F32":
                for i in 0..<count {
                    out.append(Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))))
                }
            case "F64":
                for i in 0..<count {
                    out.append(Float(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))))
                }
            case "F16":
                for i in 0..<count {
                    out.append(Float(Float16(bitPattern: UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))))
                }
            case "BF16":
                for i in 0..<count {
                    let half = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    out.append(Float(bitPattern: UInt32(half) << 16))
                }
            default:
                throw SafetensorsError.unsupportedDType(path: path, tensor: t.name, dtype: t.dtype)
            }
        }
    }
}
