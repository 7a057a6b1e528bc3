import Foundation

/// The parsed, validated JSON header of a safetensors file.
struct SafetensorsHeader {
    var tensors: [SafetensorsTensor]
    var metadata: [String: String]

    /// Byte width of every dtype the format defines (conversion to Float supports a subset).
    static let dtypeSizes: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
        "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
    ]

    /// Parses `bytes` and checks every entry against a data buffer of `bufferLength` bytes: sizes
    /// match shape × dtype, offsets in range, and sorted by offset the tensors tile the buffer
    /// exactly (no overlap, no hole, nothing after the last).
    static func parse(_ bytes: ArraySlice<UInt8>, path: String, bufferLength: Int) throws -> SafetensorsHeader {
        guard bytes.first == UInt8(ascii: "{") else {
            throw SafetensorsError.invalidHeader(path: path, reason: "it does not start with '{'")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes), options: [])
        } catch {
            throw SafetensorsError.invalidHeader(path: path, reason: "not valid JSON (\(error.localizedDescription))")
        }
        guard let entries = object as? [String: Any] else {
            throw SafetensorsError.invalidHeader(path: path, reason: "not a JSON object")
        }
        var metadata: [String: String] = [:]
        var tensors: [SafetensorsTensor] = []
        for (name, value) in entries {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else {
                    throw SafetensorsError.invalidHeader(path: path, reason: "__metadata__ is not an object")
                }
                for (k, v) in map {
                    guard let s = v as? String else {
                        throw SafetensorsError.invalidHeader(path: path, reason: "__metadata__ value for '\(k)' is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            tensors.append(try tensor(name: name, entry: value, path: path, bufferLength: bufferLength))
        }
        tensors.sort { ($0.byteRange.lowerBound, $0.byteRange.upperBound, $0.name) < ($1.byteRange.lowerBound, $1.byteRange.upperBound, $1.name) }
        var expected = 0
        for t in tensors {
            guard t.byteRange.lowerBound == expected else {
                let what = t.byteRange.lowerBound < expected ? "overlaps the previous tensor" : "leaves a hole before it"
                throw SafetensorsError.layout(path: path, reason: "tensor '\(t.name)' at byte \(t.byteRange.lowerBound) \(what) (expected \(expected))")
            }
            expected = t.byteRange.upperBound
        }
        guard expected == bufferLength else {
            throw SafetensorsError.layout(path: path, reason: "tensors cover \(expected) bytes but the buffer has \(bufferLength)")
        }
        return SafetensorsHeader(tensors: tensors, metadata: metadata)
    }

    private static func tensor(name: String, entry: Any, path: String, bufferLength: Int) throws -> SafetensorsTensor {
        func bad(_ reason: String) -> SafetensorsError { .invalidTensor(path: path, tensor: name, reason: reason) }
        guard let fields = entry as? [String: Any] else { throw bad("its entry is not an object") }
        guard let dtype = fields["dtype"] as? String else { throw bad("dtype missing or not a string") }
        guard let width = dtypeSizes[dtype] else { throw bad("unknown dtype '\(dtype)'") }
        guard let shape = integers(fields["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
            throw bad("shape missing or not a list of non-negative integers")
        }
        guard let offsets = integers(fields["data_offsets"]), offsets.count == 2 else {
            throw bad("data_offsets missing or not [begin, end]")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin >= 0, begin <= end, end <= bufferLength else {
            throw bad("data_offsets [\(begin), \(end)] outside the \(bufferLength)-byte buffer")
        }
        var bytes = width
        for d in shape {
            let (product, overflow) = bytes.multipliedReportingOverflow(by: d)
            guard !overflow, product <= bufferLength || d == 0 else { throw bad("shape \(shape) is larger than the file") }
            bytes = product
        }
        guard bytes == end - begin else {
            throw bad("shape \(shape) of \(dtype) needs \(bytes) bytes but data_offsets span \(end - begin)")
        }
        return SafetensorsTensor(name: name, shape: shape, dtype: dtype, byteRange: begin..<end)
    }

    /// The value as [Int] when it is a list of integral JSON numbers (no fractions).
    private static func integers(_ value: Any?) -> [Int]? {
        guard let list = value as? [Any] else { return nil }
        var out: [Int] = []
        for item in list {
            guard let number = item as? NSNumber else { return nil }
            let d = number.doubleValue
            guard d.rounded() == d, let i = Int(exactly: d) else { return nil }
            out.append(i)
        }
        return out
    }
}
