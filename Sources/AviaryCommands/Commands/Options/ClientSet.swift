import AviaryLog
import AviaryProtocol
import Foundation

/// Client index sets as people read and type them. Pure: no I/O.
public enum ClientSet {
    /// The most clients one process may host: the protocol's limit on claims in one HELLO
    /// (`CodecLimits.maxListEntries`). A list naming more is refused before anything is expanded.
    public static let maxHosted = CodecLimits.default.maxListEntries

    /// Why a `--clients` list could not be read; `text` is the offending part.
    public enum ParseError: Error, CustomStringConvertible, Equatable {
        case notAnIndex(text: String)
        case emptyRange(text: String)
        /// The list names more clients than one process may host (`maxHosted`).
        case tooMany(text: String, count: String, limit: Int)

        public var description: String {
            switch self {
            case let .notAnIndex(text): "'\(text)' is not a client index; give non-negative integers or ranges like 0-99,200"
            case let .emptyRange(text): "'\(text)' is an empty range; write the lower end first, e.g. 0-99"
            case let .tooMany(text, count, limit):
                "'\(text)' names \(count) clients; one process hosts at most \(CompactIndices.grouped(limit)) "
                    + "(the protocol's limit on claims in one HELLO); split them over processes"
            }
        }
    }

    /// A set short enough for one error line, whatever its size: up to `shown` leading indices,
    /// an ellipsis and the last one, then the count in parentheses once anything was left out,
    /// e.g. `0,8,…,9992 (1,250)`. Contiguous sets print as ranges: `0-99 (100)`.
    public static func compact(_ indices: [Int], shown: Int = 2) -> String {
        CompactIndices(indices, shown: shown).description
    }

    /// `1,250` for 1250.
    public static func grouped(_ n: Int) -> String { CompactIndices.grouped(n) }

    /// Parses `0,4,8` or `0-99,200` into ranges, in the order given, without expanding them:
    /// `0-9223372036854775807` is one range, not a trap.
    public static func ranges(_ text: String) throws(ParseError) -> [ClosedRange<Int>] {
        var out: [ClosedRange<Int>] = []
        for rawPart in text.split(separator: ",", omittingEmptySubsequences: false) {
            let part = rawPart.trimmingCharacters(in: .whitespaces)
            let ends = part.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
            switch ends.count {
            case 1:
                guard let i = Int(part), i >= 0 else { throw .notAnIndex(text: part) }
                out.append(i...i)
            case 2:
                guard let lo = Int(ends[0]), let hi = Int(ends[1]), lo >= 0 else { throw .notAnIndex(text: part) }
                guard lo <= hi else { throw .emptyRange(text: part) }
                out.append(lo...hi)
            default:
                throw .notAnIndex(text: part)
            }
        }
        return out
    }

    /// Parses `0,4,8` or `0-99,200` into indices, in the order given (ranges ascending). A list
    /// naming more than `limit` indices is refused before any is expanded.
    public static func parse(_ text: String, limit: Int = maxHosted) throws(ParseError) -> [Int] {
        let parts = try ranges(text)
        var total = 0
        for r in parts {
            // A range's size, and the running total, may overflow Int: both count as too many.
            let (span, o1) = r.upperBound.subtractingReportingOverflow(r.lowerBound)
            let (sum, o2) = total.addingReportingOverflow(span)
            if o1 || o2 || sum >= limit {
                let over = o1 || o2 || sum == .max
                throw .tooMany(text: text, count: over ? "more than \(CompactIndices.grouped(Int.max))" : CompactIndices.grouped(sum + 1), limit: limit)
            }
            total = sum + 1
        }
        var out: [Int] = []
        out.reserveCapacity(total)
        for r in parts { out.append(contentsOf: r) }
        return out
    }

    /// How many indices process `shard` of `shards` hosts out of `clients` (no expansion).
    public static func shardSize(_ shard: Int, of shards: Int, clients: Int) -> Int {
        guard shards >= 1, shard >= 0, shard < clients else { return 0 }
        let left = clients - shard  // ≥ 1
        return (left - 1) / shards + 1
    }

    /// The indices process `shard` of `shards` hosts out of `clients`: i ≡ shard (mod shards), so
    /// sampled clients spread over processes. Callers bound `shardSize` first: this expands.
    public static func shard(_ shard: Int, of shards: Int, clients: Int) -> [Int] {
        Array(stride(from: shard, to: clients, by: shards))
    }

    /// `ranges` sorted and with overlapping or adjacent ones joined, for `contains`.
    public static func merged(_ ranges: [ClosedRange<Int>]) -> [ClosedRange<Int>] {
        var out: [ClosedRange<Int>] = []
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = out.last, last.upperBound == Int.max || r.lowerBound <= last.upperBound + 1 {
                out[out.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                out.append(r)
            }
        }
        return out
    }

    /// Whether `index` lies in one of `merged` (from `merged(_:)`; a parsed `--exclude`, never
    /// expanded), by binary search.
    public static func contains(_ merged: [ClosedRange<Int>], _ index: Int) -> Bool {
        var lo = 0, hi = merged.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if merged[mid].upperBound < index { lo = mid + 1 } else { hi = mid }
        }
        return lo < merged.count && merged[lo].contains(index)
    }
}
