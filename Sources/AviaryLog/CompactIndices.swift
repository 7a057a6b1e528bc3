/// A set of client indices as a short phrase for logs and error lines: `3,7,9` when small,
/// `0-99 (100)` when contiguous, `0,8,…,9992 (1,250)` otherwise. Never thousands of numbers.
public struct CompactIndices: CustomStringConvertible, Sendable {
    public let indices: [Int]
    /// How many to show before the ellipsis.
    public let shown: Int

    public init<S: Sequence>(_ indices: S, shown: Int = 2) where S.Element == Int {
        self.indices = Array(Set(indices)).sorted()
        self.shown = shown
    }

    public var description: String {
        guard let first = indices.first, let last = indices.last else { return "none" }
        if indices.count > 2 && last - first + 1 == indices.count {
            return "\(first)-\(last) (\(Self.grouped(indices.count)))"
        }
        if indices.count <= shown + 1 { return indices.map(String.init).joined(separator: ",") }
        return indices.prefix(shown).map(String.init).joined(separator: ",") + ",…,\(last) (\(Self.grouped(indices.count)))"
    }

    /// `1,250` for 1250: counts in messages read at a glance.
    public static func grouped(_ n: Int) -> String {
        let digits = Array(String(n))
        var out = ""
        for (i, d) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(d)
        }
        return out
    }
}
