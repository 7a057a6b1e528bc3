/// Reads NumPy `.npy` arrays (format versions 1–3, little-endian, C order).
/// Features: float32, float64 or uint8 (uint8 is scaled by 1/255 to [0, 1]). Labels: any
/// signed or unsigned integer width, shape `(n,)` or `(n, 1)`.
public enum NPYLoader {
    /// A parsed array: element type code, shape and the raw little-endian payload.
    struct Array {
        var descr: String
        var shape: [Int]
        var payload: ArraySlice<UInt8>
        var count: Int { shape.reduce(1, *) }
    }

    /// Loads an x/y pair into a dataset; `classes` nil infers `max label + 1`.
    public static func load(x xPath: String, y yPath: String, classes: Int? = nil) throws -> Dataset {
        let x = try parse(SourceFile.bytes(xPath), path: xPath)
        let y = try parse(SourceFile.bytes(yPath), path: yPath)
        guard let n = x.shape.first, n > 0 else { throw DatasetError.empty(path: xPath) }
        guard y.shape == [n] || y.shape == [n, 1] else {
            throw DatasetError.shapeMismatch(path: yPath, problem: "labels have shape \(y.shape) but \(xPath) has \(n) samples; expected (\(n),)")
        }
        let sampleShape = x.shape.count == 1 ? [1] : Swift.Array(x.shape.dropFirst())
        let (features, isBytes) = try floats(x, path: xPath)
        let labels = try integers(y, path: yPath, classes: classes)
        // Bytes are images by convention; floats already in [0, 1] are treated as images too.
        let lo = features.min() ?? 0, hi = features.max() ?? 0
        let range: ClosedRange<Float>? = isBytes || (lo >= 0 && hi <= 1) ? 0...1 : nil
        return Dataset(features: features, labels: labels, sampleShape: sampleShape,
                       classes: classes ?? Int(labels.max()!) + 1, valueRange: range)
    }

    /// Parses the header and checks the payload length.
    static func parse(_ bytes: [UInt8], path: String) throws -> Array {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"
        guard bytes.count >= 10, Swift.Array(bytes[0..<6]) == magic else {
            throw DatasetError.badNPYHeader(path: path, problem: "missing the \\x93NUMPY magic string")
        }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw DatasetError.badNPYHeader(path: path, problem: "header length cut short") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw DatasetError.badNPYHeader(path: path, problem: "format version \(major) is unknown (1, 2 or 3 expected)")
        }
        guard bytes.count >= headerStart + headerLength,
              let header = String(validating: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self) else {
            throw DatasetError.badNPYHeader(path: path, problem: "header of \(headerLength) bytes is cut short or not text")
        }
        guard let descr = value(of: "descr", in: header)?.trimmingAny(of: "'\" ") else {
            throw DatasetError.badNPYHeader(path: path, problem: "no 'descr' key in header \(header)")
        }
        guard let fortran = value(of: "fortran_order", in: header) else {
            throw DatasetError.badNPYHeader(path: path, problem: "no 'fortran_order' key in header \(header)")
        }
        guard fortran.trimmingAny(of: " ") == "False" else {
            throw DatasetError.badNPYHeader(path: path, problem: "array is Fortran-ordered; save numpy.ascontiguousarray(a) instead")
        }
        guard let shapeText = value(of: "shape", in: header) else {
            throw DatasetError.badNPYHeader(path: path, problem: "no 'shape' key in header \(header)")
        }
        var shape: [Int] = []
        for part in shapeText.trimmingAny(of: "() ").split(separator: ",") {
            let t = String(part).trimmingAny(of: " ")
            if t.isEmpty { continue }
            guard let d = Int(t), d >= 0 else {
                throw DatasetError.badNPYHeader(path: path, problem: "shape \(shapeText) is not a tuple of sizes")
            }
            shape.append(d)
        }
        guard let size = itemSize(descr) else {
            throw DatasetError.badNPYHeader(path: path, problem: "dtype \(descr) is not supported (use <f4, <f8, |u1 or a little-endian integer)")
        }
        let start = headerStart + headerLength
        let needed = shape.reduce(1, *) * size
        guard bytes.count - start >= needed else {
            throw DatasetError.truncated(path: path, expectedBytes: start + needed, actualBytes: bytes.count)
        }
        return Array(descr: descr, shape: shape, payload: bytes[start..<(start + needed)])
    }

    /// Bytes per element for supported little-endian (or byte-sized) dtypes.
    static func itemSize(_ descr: String) -> Int? {
        guard descr.count >= 3, let order = descr.first, order == "<" || order == "|" || order == "=" else { return nil }
        let kind = descr.dropFirst().first!
        guard let size = Int(descr.dropFirst(2)), [1, 2, 4, 8].contains(size) else { return nil }
        if order == "|" && size != 1 { return nil }
        switch kind {
        case "f": return size == 4 || size == 8 ? size : nil
        case "i", "u", "b": return size
        default: return nil
        }
    }

    /// The raw text of `key`'s value in a Python dict literal (up to the next top-level comma).
    static func value(of key: String, in header: String) -> String? {
        let chars = Swift.Array(header)
        for quote in ["'", "\""] {
            let needle = Swift.Array(quote + key + quote)
            guard let at = firstIndex(of: needle, in: chars) else { continue }
            var i = at + needle.count
            while i < chars.count, chars[i] == " " || chars[i] == ":" { i += 1 }
            var depth = 0, out = ""
            while i < chars.count {
                let c = chars[i]
                if c == "(" { depth += 1 }
                if c == ")" { depth -= 1 }
                if depth == 0 && (c == "," || c == "}") { break }
                out.append(c)
                i += 1
            }
            return out
        }
        return nil
    }

    static func firstIndex(of needle: [Character], in hay: [Character]) -> Int? {
        guard needle.count <= hay.count else { return nil }
        for i in 0...(hay.count - needle.count) where Swift.Array(hay[i..<(i + needle.count)]) == needle { return i }
        return nil
    }

    /// Decodes x into floats; the flag says whether the source was unsigned bytes.
    static func floats(_ a: Array, path: String) throws -> ([Float], Bool) {
        let p = a.payload
        let base = p.startIndex
        switch a.descr.dropFirst() {
        case "f4":
            return (p.withUnsafeBytes { raw in (0..<a.count).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self).littleEndian) } }, false)
        case "f8":
            return (p.withUnsafeBytes { raw in (0..<a.count).map { Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self).littleEndian)) } }, false)
        case "u1":
            return ((0..<a.count).map { Float(p[base + $0]) * (1.0 / 255.0) }, true)
        default:
            throw DatasetError.badNPYHeader(path: path, problem: "features have dtype \(a.descr); use float32, float64 or uint8")
        }
    }

    /// Decodes y into labels, rejecting negatives and values not below `classes`.
    static func integers(_ a: Array, path: String, classes: Int?) throws -> [Int32] {
        let kind = a.descr.dropFirst().first!
        guard kind == "i" || kind == "u" else {
            throw DatasetError.badNPYHeader(path: path, problem: "labels have dtype \(a.descr); use an integer dtype")
        }
        let size = Int(a.descr.dropFirst(2))!
        var labels = [Int32](repeating: 0, count: a.count)
        try a.payload.withUnsafeBytes { raw in
            for i in 0..<a.count {
                var bits: UInt64 = 0
                for b in 0..<size { bits |= UInt64(raw[i * size + b]) << (8 * b) }
                var v = Int64(bitPattern: bits)
                if kind == "i" && size < 8 {
                    let shift = UInt64(64 - 8 * size)
                    v = (v << shift) >> shift  // sign-extend
                }
                if kind == "u" && size == 8 && bits > UInt64(Int64.max) { v = Int64.max }
                if v < 0 || v > Int64(Int32.max) || (classes != nil && v >= Int64(classes!)) {
                    throw DatasetError.labelOutOfRange(path: path, sample: i, label: v, classes: classes ?? Int(Int32.max))
                }
                labels[i] = Int32(v)
            }
        }
        return labels
    }
}

extension String {
    func trimmingAny(of set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
