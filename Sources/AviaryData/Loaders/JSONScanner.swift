/// A streaming reader over one JSON document's bytes, for LEAF's files: it walks objects and
/// arrays in place (no intermediate tree, so a 100 MB FEMNIST shard is not held twice) and
/// every error names the file and the byte offset where the document stops making sense.
struct JSONScanner {
    let path: String
    let bytes: UnsafeBufferPointer<UInt8>
    private(set) var offset = 0

    init(path: String, bytes: UnsafeBufferPointer<UInt8>) {
        self.path = path
        self.bytes = bytes
    }

    func error(_ problem: String, at position: Int? = nil) -> DatasetError {
        .corruptRecord(path: path, offset: position ?? offset, problem: problem)
    }

    /// The next non-space byte, not consumed; at the end of the file, an error saying what was expected.
    mutating func peek(expecting what: String) throws -> UInt8 {
        while offset < bytes.count, bytes[offset] == 0x20 || bytes[offset] == 0x0A || bytes[offset] == 0x0D || bytes[offset] == 0x09 {
            offset += 1
        }
        guard offset < bytes.count else { throw error("the file ends where \(what) was expected; it is truncated") }
        return bytes[offset]
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws {
        let found = try peek(expecting: what)
        guard found == byte else { throw error("expected \(what), found \(Self.describe(found))") }
        offset += 1
    }

    /// Calls `body` for each member of an object, positioned at its value.
    mutating func object(_ what: String, _ body: (inout JSONScanner, String) throws -> Void) throws {
        try expect(0x7B, "'{' opening \(what)")
        if try peek(expecting: "a key or '}'") == 0x7D { offset += 1; return }
        while true {
            let key = try string("a key of \(what)")
            try expect(0x3A, "':' after key \"\(key)\"")
            try body(&self, key)
            let next = try peek(expecting: "',' or '}' in \(what)")
            offset += 1
            if next == 0x7D { return }
            guard next == 0x2C else { throw error("expected ',' or '}' in \(what), found \(Self.describe(next))", at: offset - 1) }
        }
    }

    /// Calls `body` for each element of an array, positioned at it.
    mutating func array(_ what: String, _ body: (inout JSONScanner) throws -> Void) throws {
        try expect(0x5B, "'[' opening \(what)")
        if try peek(expecting: "an element or ']'") == 0x5D { offset += 1; return }
        while true {
            try body(&self)
            let next = try peek(expecting: "',' or ']' in \(what)")
            offset += 1
            if next == 0x5D { return }
            guard next == 0x2C else { throw error("expected ',' or ']' in \(what), found \(Self.describe(next))", at: offset - 1) }
        }
    }

    mutating func string(_ what: String) throws -> String {
        try expect(0x22, "a string (\(what))")
        var utf8: [UInt8] = []
        while true {
            guard offset < bytes.count else { throw error("the file ends inside a string (\(what)); it is truncated") }
            let b = bytes[offset]
            offset += 1
            switch b {
            case 0x22: return String(decoding: utf8, as: UTF8.self)
            case 0x5C:
                guard offset < bytes.count else { throw error("the file ends inside a string (\(what)); it is truncated") }
                let e = bytes[offset]
                offset += 1
                switch e {
                case 0x22, 0x5C, 0x2F: utf8.append(e)
                case 0x62: utf8.append(0x08)
                case 0x66: utf8.append(0x0C)
                case 0x6E: utf8.append(0x0A)
                case 0x72: utf8.append(0x0D)
                case 0x74: utf8.append(0x09)
                case 0x75: utf8.append(contentsOf: try unicodeEscape())
                default: throw error("invalid escape \\\(Self.describe(e)) in a string (\(what))", at: offset - 2)
                }
            case 0..<0x20: throw error("control byte 0x\(String(b, radix: 16)) inside a string (\(what))", at: offset - 1)
            default: utf8.append(b)
            }
        }
    }

    /// `\uXXXX`, with a following `\uXXXX` low surrogate when the first is a high one.
    private mutating func unicodeEscape() throws -> [UInt8] {
        func hex4() throws -> UInt32 {
            guard offset + 4 <= bytes.count else { throw error("the file ends inside a \\u escape; it is truncated") }
            guard let v = UInt32(String(decoding: UnsafeBufferPointer(rebasing: bytes[offset..<(offset + 4)]), as: UTF8.self), radix: 16) else {
                throw error("a \\u escape needs four hex digits")
            }
            offset += 4
            return v
        }
        var scalar = try hex4()
        if (0xD800..<0xDC00).contains(scalar), offset + 2 <= bytes.count, bytes[offset] == 0x5C, bytes[offset + 1] == 0x75 {
            offset += 2
            let low = try hex4()
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low &- 0xDC00)
        }
        return Array(String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8)
    }

    mutating func number(_ what: String) throws -> Double {
        let start = offset
        _ = try peek(expecting: "a number (\(what))")
        let begin = offset
        while offset < bytes.count, Self.isNumberByte(bytes[offset]) { offset += 1 }
        guard offset > begin, let value = DecimalParser.parse(bytes, begin..<offset), value.isFinite else {
            let found = offset > begin ? "'\(String(decoding: UnsafeBufferPointer(rebasing: bytes[begin..<offset]), as: UTF8.self))'"
                : offset < bytes.count ? Self.describe(bytes[offset]) : "the end of the file"
            throw error("expected a finite number (\(what)), found \(found)", at: max(start, begin))
        }
        return value
    }

    /// Skips one value of any kind.
    mutating func skipValue(_ what: String) throws {
        switch try peek(expecting: "a value (\(what))") {
        case 0x7B: try object(what) { s, _ in try s.skipValue(what) }
        case 0x5B: try array(what) { try $0.skipValue(what) }
        case 0x22: _ = try string(what)
        case 0x74, 0x66, 0x6E:
            for literal in ["true", "false", "null"] where bytes[offset...].starts(with: literal.utf8) {
                offset += literal.utf8.count
                return
            }
            throw error("expected a value (\(what)), found \(Self.describe(bytes[offset]))")
        default: _ = try number(what)
        }
    }

    /// Only whitespace may follow the document.
    mutating func finish() throws {
        while offset < bytes.count, bytes[offset] == 0x20 || bytes[offset] == 0x0A || bytes[offset] == 0x0D || bytes[offset] == 0x09 {
            offset += 1
        }
        guard offset == bytes.count else { throw error("unexpected \(Self.describe(bytes[offset])) after the end of the document") }
    }

    private static func isNumberByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x2B || b == 0x2E || b == 0x65 || b == 0x45
    }

    static func describe(_ b: UInt8) -> String {
        b >= 0x20 && b < 0x7F ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16))"
    }
}
