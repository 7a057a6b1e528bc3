/// Writes the protocol's little-endian fields into a buffer the caller sized with `WireSize`.
/// Internal: `WireCodec` is the only user, and it sizes the buffer exactly, so bounds are
/// checked only in debug builds.
struct WireWriter {
    private let base: UnsafeMutableRawPointer
    private let capacity: Int
    private(set) var offset: Int = 0

    init(_ buffer: UnsafeMutableRawBufferPointer) {
        // An empty buffer still needs a pointer; nothing is ever written through it.
        base = buffer.baseAddress ?? UnsafeMutableRawPointer(bitPattern: 0x10)!
        capacity = buffer.count
    }

    private mutating func reserve(_ n: Int) -> Int {
        assert(offset + n <= capacity, "WireWriter overflow: WireSize and the writer disagree")
        defer { offset += n }
        return offset
    }

    mutating func u8(_ v: UInt8) { base.storeBytes(of: v, toByteOffset: reserve(1), as: UInt8.self) }
    mutating func u16(_ v: UInt16) { base.storeBytes(of: v.littleEndian, toByteOffset: reserve(2), as: UInt16.self) }
    mutating func u32(_ v: UInt32) { base.storeBytes(of: v.littleEndian, toByteOffset: reserve(4), as: UInt32.self) }
    mutating func i64(_ v: Int64) { base.storeBytes(of: v.littleEndian, toByteOffset: reserve(8), as: Int64.self) }
    mutating func int(_ v: Int) { i64(Int64(v)) }
    mutating func f64(_ v: Double) { base.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: reserve(8), as: UInt64.self) }

    mutating func raw(_ bytes: UnsafeRawBufferPointer) {
        let at = reserve(bytes.count)
        if let src = bytes.baseAddress, bytes.count > 0 { (base + at).copyMemory(from: src, byteCount: bytes.count) }
    }

    /// i64 length, then the UTF-8 bytes.
    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            int(utf8.count)
            raw(UnsafeRawBufferPointer(utf8))
        }
    }

    /// i64 length, then the bytes.
    mutating func blob(_ b: [UInt8]) {
        int(b.count)
        b.withUnsafeBytes { raw($0) }
    }

    /// u8 tag (0 absent, 1 present), then an i64 when present.
    mutating func optionalInt(_ v: Int?) {
        if let v { u8(1); int(v) } else { u8(0) }
    }

    /// u64 bit pattern (session tokens).
    mutating func u64(_ v: UInt64) { i64(Int64(bitPattern: v)) }

    /// i64 count, then one i64 per element (client index lists).
    mutating func ints(_ v: [Int]) {
        int(v.count)
        for x in v { int(x) }
    }

    /// i64 count, then (key string, f64) pairs sorted by key so equal maps give equal bytes.
    mutating func metrics(_ m: [String: Double]) {
        int(m.count)
        for (key, value) in m.sorted(by: { $0.key < $1.key }) {
            string(key)
            f64(value)
        }
    }

    /// i64 count, then the raw little-endian IEEE-754 floats: one bulk copy on little-endian hosts.
    mutating func floats(_ v: [Float]) {
        int(v.count)
        let at = reserve(v.count * 4)
        v.withUnsafeBytes { src in
            #if _endian(little)
            if let s = src.baseAddress, src.count > 0 { (base + at).copyMemory(from: s, byteCount: src.count) }
            #else
            for (i, x) in v.enumerated() {
                base.storeBytes(of: x.bitPattern.littleEndian, toByteOffset: at + 4 * i, as: UInt32.self)
            }
            #endif
        }
    }
}

/// Encoded sizes of the protocol's field types, matching `WireWriter` byte for byte.
enum WireSize {
    static let int = 8
    static let f64 = 8
    static func string(_ s: String) -> Int { 8 + s.utf8.count }
    static func blob(_ b: [UInt8]) -> Int { 8 + b.count }
    static func optionalInt(_ v: Int?) -> Int { v == nil ? 1 : 9 }
    static func metrics(_ m: [String: Double]) -> Int {
        m.keys.reduce(8) { $0 + string($1) + f64 }
    }
    static func floats(_ v: [Float]) -> Int { 8 + 4 * v.count }
    static func ints(_ v: [Int]) -> Int { 8 + 8 * v.count }
}
