/// Reads the protocol's little-endian fields from a borrowed buffer, checking every length
/// against the bytes that remain (and against `CodecLimits`) BEFORE allocating anything.
struct WireReader {
    private let base: UnsafeRawPointer
    /// One past the last byte this reader may consume (the CRC trailer is excluded).
    private let end: Int
    private(set) var offset: Int
    let limits: CodecLimits

    init(base: UnsafeRawPointer, offset: Int, end: Int, limits: CodecLimits) {
        self.base = base
        self.offset = offset
        self.end = end
        self.limits = limits
    }

    var remaining: Int { end - offset }

    private mutating func take(_ n: Int, _ field: String) throws(CodecError) -> Int {
        guard n <= remaining else {
            throw .truncated(field: field, offset: offset, needed: n, available: remaining)
        }
        defer { offset += n }
        return offset
    }

    /// A secure-aggregation stage byte: 1 (advertise keys) to 4 (unmasking).
    mutating func secAggStage(_ field: String) throws(CodecError) -> UInt8 {
        let at = offset
        let stage = try u8(field)
        guard (1...4).contains(stage) else { throw .unknownStage(field: field, offset: at, stage: stage) }
        return stage
    }

    mutating func u8(_ field: String) throws(CodecError) -> UInt8 {
        base.load(fromByteOffset: try take(1, field), as: UInt8.self)
    }

    mutating func i64(_ field: String) throws(CodecError) -> Int64 {
        Int64(littleEndian: base.loadUnaligned(fromByteOffset: try take(8, field), as: Int64.self))
    }

    mutating func int(_ field: String) throws(CodecError) -> Int { Int(try i64(field)) }

    mutating func u64(_ field: String) throws(CodecError) -> UInt64 { UInt64(bitPattern: try i64(field)) }

    /// A list count for entries of at least `minimumEntryBytes` each, checked against
    /// `CodecLimits.maxListEntries` and the bytes left before anything is reserved.
    mutating func listCount(_ field: String, minimumEntryBytes: Int) throws(CodecError) -> Int {
        let (n, at) = try count(field)
        guard n <= limits.maxListEntries else {
            throw .tooManyEntries(field: field, offset: at, count: Int64(n), limit: limits.maxListEntries)
        }
        guard n <= remaining / minimumEntryBytes else {
            throw .truncated(field: field, offset: offset, needed: saturatingProduct(n, minimumEntryBytes), available: remaining)
        }
        return n
    }

    /// i64 count, then one i64 per element.
    mutating func ints(_ field: String) throws(CodecError) -> [Int] {
        let n = try listCount(field, minimumEntryBytes: 8)
        var out: [Int] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try int(field)) }
        return out
    }

    mutating func f64(_ field: String) throws(CodecError) -> Double {
        Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: try take(8, field), as: UInt64.self)))
    }

    /// A non-negative i64 count, returned with the offset it was read at (for error context).
    private mutating func count(_ field: String) throws(CodecError) -> (Int, at: Int) {
        let at = offset
        let value = try i64(field)
        guard value >= 0 else { throw .negativeCount(field: field, offset: at, value: value) }
        return (Int(value), at)
    }

    mutating func string(_ field: String) throws(CodecError) -> String {
        let (length, at) = try count(field)
        guard length <= limits.maxStringBytes else {
            throw .stringTooLong(field: field, offset: at, length: Int64(length), limit: limits.maxStringBytes)
        }
        let start = try take(length, field)
        let bytes = UnsafeRawBufferPointer(start: base + start, count: length).assumingMemoryBound(to: UInt8.self)
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw .invalidUTF8(field: field, offset: start)
        }
        return s
    }

    mutating func blob(_ field: String) throws(CodecError) -> [UInt8] {
        let (length, at) = try count(field)
        guard length <= limits.maxBlobBytes else {
            throw .blobTooLong(field: field, offset: at, length: Int64(length), limit: limits.maxBlobBytes)
        }
        let start = try take(length, field)
        return Array(UnsafeRawBufferPointer(start: base + start, count: length))
    }

    mutating func optionalInt(_ field: String) throws(CodecError) -> Int? {
        let at = offset
        switch try u8(field) {
        case 0: return nil
        case 1: return try int(field)
        case let tag: throw .invalidOptionalTag(field: field, offset: at, tag: tag)
        }
    }

    mutating func metrics(_ field: String) throws(CodecError) -> [String: Double] {
        let (n, at) = try count(field)
        guard n <= limits.maxMetrics else {
            throw .tooManyMetrics(field: field, offset: at, count: Int64(n), limit: limits.maxMetrics)
        }
        // Each entry is at least 16 bytes (empty key + f64): reject before reserving capacity.
        guard n <= remaining / 16 else {
            throw .truncated(field: field, offset: offset, needed: saturatingProduct(n, 16), available: remaining)
        }
        var m = [String: Double](minimumCapacity: n)
        for _ in 0..<n {
            let keyAt = offset
            let key = try string(field + ".key")
            let value = try f64(field + "[\(key)]")
            guard m.updateValue(value, forKey: key) == nil else {
                throw .duplicateKey(field: field, offset: keyAt, key: key)
            }
        }
        return m
    }

    /// An i64 element count, then `count × elementBytes` bytes returned in place (no copy),
    /// checked against `CodecLimits.maxVectorCount` and the bytes left first. The delta
    /// encodings' arrays (f16, int8, u32 indices) read through this.
    mutating func elements(_ field: String, elementBytes: Int) throws(CodecError) -> (count: Int, bytes: UnsafeRawBufferPointer) {
        let (n, at) = try count(field)
        guard n <= limits.maxVectorCount else {
            throw .vectorTooLong(field: field, offset: at, count: Int64(n), limit: limits.maxVectorCount)
        }
        guard n <= remaining / elementBytes else {
            throw .truncated(field: field, offset: offset, needed: saturatingProduct(n, elementBytes), available: remaining)
        }
        let start = try take(n * elementBytes, field)
        return (n, UnsafeRawBufferPointer(start: base + start, count: n * elementBytes))
    }

    /// One bulk copy into a freshly allocated array; NaN payloads survive bit for bit.
    mutating func floats(_ field: String) throws(CodecError) -> [Float] {
        let (n, at) = try count(field)
        guard n <= limits.maxVectorCount else {
            throw .vectorTooLong(field: field, offset: at, count: Int64(n), limit: limits.maxVectorCount)
        }
        guard n <= remaining / 4 else {
            throw .truncated(field: field, offset: offset, needed: saturatingProduct(n, 4), available: remaining)
        }
        let start = try take(n * 4, field)
        let src = base + start
        return [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            #if _endian(little)
            if n > 0 { UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: src, byteCount: n * 4) }
            #else
            for i in 0..<n {
                buffer[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
            #endif
            initialized = n
        }
    }
}

/// `a · b`, clamped to `Int.max`: error messages about absurd counts must not overflow.
private func saturatingProduct(_ a: Int, _ b: Int) -> Int {
    let (p, overflow) = a.multipliedReportingOverflow(by: b)
    return overflow ? .max : p
}
