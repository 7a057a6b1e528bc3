/// A topology that cannot run, with the file and the key that says why.
public enum TopologyError: Error, CustomStringConvertible, Equatable {
    case unreadable(file: String, reason: String)
    case syntax(file: String, line: Int, column: Int, message: String)
    case missingKey(file: String, key: String)
    case wrongType(file: String, key: String, expected: String)
    case invalidValue(file: String, key: String, value: String, expected: String)
    case unknownKey(file: String, key: String, known: [String])

    /// The known key nearest a misspelt one, with the misspelt key's section (`merge.penalty`).
    static func nearest(_ key: String, _ known: [String]) -> String? {
        let parts = key.split(separator: ".", omittingEmptySubsequences: false)
        let section = parts.dropLast().joined(separator: ".")
        return KeySuggestion.nearest(to: String(parts.last ?? ""), among: known).map { section.isEmpty ? $0 : section + "." + $0 }
    }

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            "\(file): cannot read the topology: \(reason)"
        case let .syntax(file, line, column, message):
            "\(file):\(line):\(column): TOML syntax error: \(message)"
        case let .missingKey(file, key):
            "\(file): missing required key '\(key)'"
        case let .wrongType(file, key, expected):
            "\(file): '\(key)' must be \(expected)"
        case let .invalidValue(file, key, value, expected):
            "\(file): '\(key)' = \(value) is invalid: expected \(expected)"
        case let .unknownKey(file, key, known):
            "\(file): unknown key '\(key)'" + (Self.nearest(key, known).map { "; did you mean '\($0)'?" } ?? "")
                + " (known here: \(known.sorted().joined(separator: ", ")))"
        }
    }
}
