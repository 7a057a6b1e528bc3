/// The client public keys a CURVE server accepts, each optionally bound to client indices
/// (docs/PROTOCOL.md, "Security"). Pure: parsed from text, no I/O.
///
/// File format, one key per line: `<z85-public-key> [indices]`, where indices are a list with
/// ranges (`0-9,12,20-29`) and nothing means any index; `#` starts a comment line (unless the
/// line's first word is a key: `#` is a Z85 character) or a comment after the key, preceded by
/// a space; blank lines are skipped.
public struct AllowList: Sendable, Equatable {
    /// Which client indices a key may register.
    public enum Binding: Sendable, Equatable, CustomStringConvertible {
        case any
        /// Ascending, non-overlapping ranges.
        case indices([ClosedRange<Int>])

        public func allows(_ index: Int) -> Bool {
            switch self {
            case .any: return true
            case let .indices(ranges): return ranges.contains { $0.contains(index) }
            }
        }

        /// The bound indices in ascending order (nil for `.any`).
        public var ranges: [ClosedRange<Int>]? { if case let .indices(r) = self { r } else { nil } }

        /// `0-9,12` (the file's own syntax), or `any`.
        public var description: String {
            switch self {
            case .any: return "any"
            case let .indices(ranges):
                return ranges.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ",")
            }
        }

        /// For messages: at most four ranges, then how many more (a strided binding of
        /// thousands of indices stays one short line).
        public var short: String {
            guard case let .indices(ranges) = self, ranges.count > 4 else { return description }
            let shown = AllowList.Binding.indices(Array(ranges.prefix(3))).description
            return "\(shown),…,\(ranges.last!.upperBound) (\(ranges.reduce(0) { $0 + $1.count }) indices)"
        }

        /// The binding of exactly `indices` (in any order, duplicates ignored), as merged ranges.
        public static func of(_ indices: [Int]) -> Binding {
            var ranges: [ClosedRange<Int>] = []
            for i in Set(indices).sorted() {
                if let last = ranges.last, last.upperBound + 1 == i { ranges[ranges.count - 1] = last.lowerBound...i } else { ranges.append(i...i) }
            }
            return .indices(ranges)
        }
    }

    /// Public key (Z85) → what it may register.
    public private(set) var bindings: [String: Binding]

    public init(bindings: [String: Binding]) { self.bindings = bindings }

    public var keys: Set<String> { Set(bindings.keys) }

    public func binding(for key: String) -> Binding? { bindings[key] }

    /// The file's text: one line per key, sorted by key, after `header` comment lines.
    public func rendered(header: [String] = []) -> String {
        var out = header.map { "# " + $0 + "\n" }.joined()
        for key in bindings.keys.sorted() {
            let b = bindings[key]!
            out += b == .any ? key + "\n" : key + " " + b.description + "\n"
        }
        return out
    }

    /// A Z85 key: 40 characters of the Z85 alphabet (32 bytes).
    public static func isZ85Key(_ s: String) -> Bool {
        s.utf8.count == 40 && s.utf8.allSatisfy { z85Alphabet.contains($0) }
    }

    static let z85Alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)

    /// Parses an allow-list; every error names `file` and the line.
    public static func parse(_ text: String, file: String) throws(AllowListError) -> AllowList {
        var bindings: [String: Binding] = [:]
        var firstLine: [String: Int] = [:]
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = n + 1
            let trimmed = raw.trimmingWhitespace()
            if trimmed.isEmpty { continue }
            // The key is the first word. '#' is a Z85 character, so a line starting with '#' is
            // a comment unless its first word is a key; after the key, " #" starts a comment.
            let words = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" })
            let key = String(words[0])
            if trimmed.hasPrefix("#") && !isZ85Key(key) { continue }
            guard isZ85Key(key) else { throw .badKey(file: file, line: line, text: key) }
            var rest: [Substring] = []
            for w in words.dropFirst() {
                if w.hasPrefix("#") { break }
                rest.append(w)
            }
            let binding: Binding
            if rest.isEmpty {
                binding = .any
            } else {
                let list = rest.joined()
                guard let indices = parseIndices(list) else { throw .badIndices(file: file, line: line, text: list) }
                binding = .of(indices)
            }
            if let first = firstLine[key] { throw .duplicateKey(file: file, line: line, firstLine: first) }
            firstLine[key] = line
            bindings[key] = binding
        }
        guard !bindings.isEmpty else { throw .empty(file: file) }
        return AllowList(bindings: bindings)
    }

    /// `0-9,12` → indices; nil if any part is not a non-negative index or an ascending range.
    /// Bounded (10^7 indices per line), so a typo cannot make the server allocate gigabytes.
    static func parseIndices(_ text: String) -> [Int]? {
        var out: [Int] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let ends = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(ends.count), let lo = Int(ends[0]), lo >= 0,
                  let hi = ends.count == 2 ? Int(ends[1]) : lo, lo <= hi, out.count + (hi - lo) < 10_000_000 else { return nil }
            out.append(contentsOf: lo...hi)
        }
        return out
    }
}

/// Why an allow-list could not be read, with the file and line.
public enum AllowListError: Error, Sendable, Equatable, CustomStringConvertible {
    case badKey(file: String, line: Int, text: String)
    case badIndices(file: String, line: Int, text: String)
    case duplicateKey(file: String, line: Int, firstLine: Int)
    case empty(file: String)

    public var description: String {
        switch self {
        case let .badKey(file, line, text):
            return "\(file):\(line): '\(text)' is not a CURVE public key (40 characters of Z85, the `public` value of a .public file from aviary keygen)"
        case let .badIndices(file, line, text):
            return "\(file):\(line): '\(text)' is not a client index list; write indices and ascending ranges like 0-9,12,20-29, or nothing for any index"
        case let .duplicateKey(file, line, first):
            return "\(file):\(line): this key is already listed on line \(first); give each key one line with all its indices"
        case let .empty(file):
            return "\(file): the allow-list has no keys, so no client could connect; add one line per client public key"
        }
    }
}

fileprivate extension Substring {
    func trimmingWhitespace() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return s
    }
}
