#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AviaryMath

/// Reads and writes the safetensors format (https://huggingface.co/docs/safetensors): an 8-byte
/// little-endian header length N, N bytes of JSON header
/// `{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}}`
/// (space-padded), then the tensors' bytes, contiguous, offsets relative to the buffer start.
///
/// Hand-written so the run directory needs no Python or Rust, and small enough to audit.
public enum Safetensors {
    /// Headers larger than this are refused (the reference implementation uses the same bound).
    public static let maxHeaderLength = 100_000_000

    /// Writes `values` (all tensors back to back, in order) as F32 tensors, atomically: a temp
    /// file in the same directory is written, fsynced, then renamed over `path`. Returns the
    /// file's size and CRC-32, computed as it streams out.
    @discardableResult
    public static func write(tensors: [(name: String, shape: [Int])], values: [Float],
                             metadata: [String: String] = [:], to path: String, sync: Bool = true) throws -> (bytes: Int, crc32: UInt32) {
        let (prefix, count) = try header(tensors: tensors, metadata: metadata, path: path)
        guard count == values.count else {
            throw SafetensorsError.invalidInput(path: path, reason: "the shapes hold \(count) values but \(values.count) were given")
        }
        return try counting(path: path, sync: sync) { sink in
            try prefix.withUnsafeBytes { try sink($0) }
            try writeLittleEndian(values, to: sink)
        }
    }

    /// Writes each tensor from its own array (no concatenated copy), atomically like `write(tensors:values:)`.
    /// Returns the file's size and CRC-32, computed as it streams out.
    @discardableResult
    /// With `sync: false` the file is renamed into place without fsync (`SafetensorsFileIO.write`).
    public static func write(arrays: [(name: String, shape: [Int], values: [Float])],
                             metadata: [String: String] = [:], to path: String, sync: Bool = true) throws -> (bytes: Int, crc32: UInt32) {
        for a in arrays where a.shape.allSatisfy({ $0 >= 0 }) && a.shape.reduce(1, *) != a.values.count {
            throw SafetensorsError.invalidInput(
                path: path, reason: "tensor '\(a.name)' has shape \(a.shape) but \(a.values.count) values")
        }
        let (prefix, _) = try header(tensors: arrays.map { ($0.name, $0.shape) }, metadata: metadata, path: path)
        return try counting(path: path, sync: sync) { sink in
            try prefix.withUnsafeBytes { try sink($0) }
            for a in arrays { try writeLittleEndian(a.values, to: sink) }
        }
    }

    /// Writes the file atomically through `body`, counting its size and CRC-32 on the way.
    private static func counting(path: String, sync: Bool,
                                 _ body: (_ sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> (bytes: Int, crc32: UInt32) {
        var size = 0
        var crc: UInt32 = 0
        try SafetensorsFileIO.write(path: path, sync: sync) { sink in
            // `sink` is only used while `body` runs; the wrapper just counts what passes through.
            try withoutActuallyEscaping(sink) { sink in
                try body { chunk in
                    crc = CRC32.checksum(chunk, initial: crc)
                    size += chunk.count
                    try sink(chunk)
                }
            }
        }
        return (size, crc)
    }

    /// The length prefix and padded JSON header for F32 `tensors` stored back to back, and the
    /// number of values they hold.
    private static func header(tensors: [(name: String, shape: [Int])], metadata: [String: String],
                               path: String) throws -> (bytes: [UInt8], values: Int) {
        var seen = Set<String>()
        var offset = 0
        var entries: [String] = []
        for t in tensors {
            guard !t.name.isEmpty, t.name != "__metadata__", seen.insert(t.name).inserted else {
                throw SafetensorsError.invalidInput(path: path, reason: "tensor name '\(t.name)' is empty, reserved or repeated")
            }
            guard t.shape.allSatisfy({ $0 >= 0 }) else {
                throw SafetensorsError.invalidInput(path: path, reason: "tensor '\(t.name)' has a negative dimension in \(t.shape)")
            }
            let bytes = t.shape.reduce(1, *) * 4
            entries.append("\(jsonString(t.name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],"
                + "\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            entries.insert("\"__metadata__\":{\(pairs.joined(separator: ","))}", at: 0)
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        // Pad so the data buffer starts 8-byte aligned, as the reference writer does.
        while (header.count + 8) % 8 != 0 { header.append(UInt8(ascii: " ")) }

        var prefix = [UInt8](repeating: 0, count: 8)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { prefix = Array($0) }
        return (prefix + header, offset / 4)
    }

    /// Reads and validates a whole file; throws `SafetensorsError` naming the file and tensor.
    public static func read(path: String) throws -> SafetensorsFile {
        try parse(SafetensorsFileIO.readAll(path: path), path: path)
    }

    /// Validates a whole file already in memory; `path` names it in errors.
    public static func parse(_ bytes: [UInt8], path: String) throws -> SafetensorsFile {
        guard bytes.count >= 8 else { throw SafetensorsError.truncated(path: path, size: bytes.count, needed: 8) }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard length >= 2, length <= UInt64(min(maxHeaderLength, bytes.count - 8)) else {
            if length <= UInt64(maxHeaderLength) && length > UInt64(bytes.count - 8) {
                throw SafetensorsError.truncated(path: path, size: bytes.count, needed: 8 + Int(length))
            }
            throw SafetensorsError.headerLength(path: path, length: length, available: bytes.count - 8)
        }
        let dataStart = 8 + Int(length)
        let header = try SafetensorsHeader.parse(bytes[8..<dataStart], path: path, bufferLength: bytes.count - dataStart)
        return SafetensorsFile(path: path, tensors: header.tensors, metadata: header.metadata, bytes: bytes, dataStart: dataStart)
    }

    /// JSON string literal with the escapes RFC 8259 requires.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Streams Floats as little-endian bytes: on a little-endian host the array's own memory, in
    /// one piece (no copy, no per-value loop); elsewhere byte-swapped in 1 MiB chunks.
    private static func writeLittleEndian(_ values: [Float], to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        if UInt32(1).littleEndian == 1 {
            try values.withUnsafeBytes { try sink($0) }
            return
        }
        let chunk = 1 << 18
        var start = 0
        var buffer = [UInt8](repeating: 0, count: chunk * 4)
        while start < values.count {
            let n = min(chunk, values.count - start)
            buffer.withUnsafeMutableBytes { raw in
                for i in 0..<n {
                    raw.storeBytes(of: values[start + i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                }
            }
            try buffer.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<(4 * n)])) }
            start += n
        }
    }
}
