/// One value of a run's resolved configuration (`run_start.config`, the settings of a sweep
/// run): what a TOML key holds, as JSON. Keys are dotted topology paths (`merge.penalty`), the
/// spelling `--set` and `--grid` take.
public enum ConfigValue: Codable, Sendable, Hashable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([ConfigValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let i = try? c.decode(Int.self) { self = .int(i); return }
        // The log reader turns every bare `null` into NaN (its non-finite convention); no
        // configuration value is ever NaN (the parser refuses non-finite numbers), so NaN is null.
        if let d = try? c.decode(Double.self) { self = d.isNaN ? .null : .double(d); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        self = .array(try c.decode([ConfigValue].self))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case let .bool(b): try c.encode(b)
        case let .int(i): try c.encode(i)
        case let .double(d): try c.encode(d)
        case let .string(s): try c.encode(s)
        case let .array(a): try c.encode(a)
        }
    }

    /// The value as a number, for the numeric cases (a JSON `1.0` reads back as `.int(1)`).
    public var number: Double? {
        switch self {
        case let .int(i): Double(i)
        case let .double(d): d
        default: nil
        }
    }

    public var string: String? { if case let .string(s) = self { s } else { nil } }

    /// Plain text for people: strings unquoted, arrays as `[a, b]`, null as `none`.
    public var description: String {
        switch self {
        case .null: "none"
        case let .bool(b): b ? "true" : "false"
        case let .int(i): String(i)
        case let .double(d): d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : "\(d)"
        case let .string(s): s
        case let .array(a): "[" + a.map(\.description).joined(separator: ", ") + "]"
        }
    }
}
