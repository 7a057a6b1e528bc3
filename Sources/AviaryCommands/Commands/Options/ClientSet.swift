import AviaryLog
import Foundation

/// Client index sets as people read and type them. Pure: no I/O.
public enum ClientSet {
    /// Why a `--clients` list could not be read; `text` is the offending part.
    public enum ParseError: Error, CustomStringConvertible, Equatable {
        case notAnIndex(text: String)
        case emptyRange(text: String)

        public var description: String {
            switch self {
            case let .notAnIndex(text): "'\(text)' is not a client index; give non-negative integers or ranges like 0-99,200"
            case let .emptyRange(text): "'\(text)' is an empty range; write the lower end first, e.g. 0-99"
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

    /// Parses `0,4,8` or `0-99,200` into indices, in the order given (ranges ascending).
    public static func parse(_ text: String) throws(ParseError) -> [Int] {
        var out: [Int] = []
        for rawPart in text.split(separator: ",", omittingEmptySubsequences: false) {
            let part = rawPart.trimmingCharacters(in: .whitespaces)
            let ends = part.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
            switch ends.count {
            case 1:
                guard let i = Int(part), i >= 0 else { throw .notAnIndex(text: part) }
                out.append(i)
            case 2:
                guard let lo = Int(ends[0]), let hi = Int(ends[1]), lo >= 0 else { throw .notAnIndex(text: part) }
                guard lo <= hi else { throw .emptyRange(text: part) }
                out.append(contentsOf: lo...hi)
            default:
                throw .notAnIndex(text: part)
            }
        }
        return out
    }

    /// The indices process `shard` of `shards` hosts out of `clients`: i ≡ shard (mod shards), so
    /// sampled clients spread over processes.
    public static func shard(_ shard: Int, of shards: Int, clients: Int) -> [Int] {
        Array(stride(from: shard, to: clients, by: shards))
    }
}
