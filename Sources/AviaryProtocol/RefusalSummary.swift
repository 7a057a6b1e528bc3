/// The claims one HELLO refuses, gathered by reason into WELCOME's summarised entries: a
/// count and the lowest index ranges per reason, so a HELLO with 61,000 bad claims is answered
/// in a few hundred bytes, not 3 MB (protocol version 4). Pure.
public struct RefusalSummary: Sendable {
    private struct Entry: Sendable {
        var reason: RefusalReason
        var claims = 0
        var indices: [Int] = []
    }
    /// In the order their first claim came.
    private var entries: [Entry] = []
    private var position: [String: Int] = [:]

    public init() {}

    public var isEmpty: Bool { entries.isEmpty }

    /// Refuses one claim (`index` nil: a server-assigned claim). Claims whose reasons share a
    /// category share an entry, whose reason is the first of them (held slots name their
    /// first holder only).
    public mutating func refuse(_ index: Int?, _ reason: RefusalReason) {
        let at: Int
        if let p = position[reason.category] { at = p } else {
            at = entries.count
            position[reason.category] = at
            entries.append(Entry(reason: reason))
        }
        entries[at].claims += 1
        if let index { entries[at].indices.append(index) }
    }

    /// One entry per reason: its claim count and its lowest indices as at most
    /// `WelcomeMessage.Refused.maxRanges` ascending ranges.
    public var refused: [WelcomeMessage.Refused] {
        entries.map { e in
            WelcomeMessage.Refused(reason: e.reason, claims: e.claims,
                                   indices: Self.lowestRanges(e.indices, limit: WelcomeMessage.Refused.maxRanges))
        }
    }

    /// The first `limit` maximal runs of consecutive values among `indices` (any order, repeats allowed).
    static func lowestRanges(_ indices: [Int], limit: Int) -> [ClosedRange<Int>] {
        var ranges: [ClosedRange<Int>] = []
        for i in indices.sorted() {
            if let last = ranges.last, i <= last.upperBound { continue }
            if let last = ranges.last, last.upperBound < Int.max, i == last.upperBound + 1 {
                ranges[ranges.count - 1] = last.lowerBound...i
            } else {
                if ranges.count == limit { break }
                ranges.append(i...i)
            }
        }
        return ranges
    }
}
