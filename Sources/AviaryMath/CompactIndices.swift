/// A set of client indices as a short phrase for logs and error lines: `3,7,9` when small,
/// `0–99 (100)` when contiguous, `0,8,16,…,9992 (1,250)` otherwise. Never thousands of numbers.
public struct CompactIndices: CustomStringConvertible, Sendable {
    public let indices: [Int]
    /// How many to show before the ellipsis.
    public static let shown = 3

    public init<S: Sequence>(_ indices: S) where S.Element == Int { self.indices = Array(indices).sorted() }

    public var description: String {
        let n = indices.count
        guard n > 0 else { return "none" }
        if n <= Self.shown + 2 { return indices.map(String.init).joined(separator: ",") }
        if indices.last! - indices.first! == n - 1 { return "\(indices.first!)–\(indices.last!) (\(Self.grouped(n)))" }
        let head = indices.prefix(Self.shown).map(String.init).joined(separator: ",")
        return "\(head),…,\(indices.last!) (\(Self.grouped(n)))"
    }

    /// 1250 → "1,250".
    static func grouped(_ n: Int) -> String {
        let digits = Array(String(n))
        var out = ""
        for (i, d) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(d)
        }
        return out
    }
}
