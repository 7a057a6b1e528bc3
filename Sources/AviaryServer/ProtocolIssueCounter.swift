import AviaryMath
import AviaryTransport

/// Counts refused and ignored messages per connection and turns them into one log line per
/// round, so a peer flooding the server with bad HELLOs or frames cannot grow the log (or
/// cost an fsync) per message.
struct ProtocolIssueCounter {
    /// Connections tracked individually; the rest are summed under "other connections", so a
    /// storm of connections cannot grow this table without bound either.
    static let maxPeers = 64

    private var counts: [String: [String: Int]] = [:]
    private var examples: [String: String] = [:]

    mutating func count(peer: PeerID, _ category: String, times: Int = 1, example: String) {
        count(source: peer.description, category, times: times, example: example)
    }

    /// Counts `times` issues from `source`: a connection, or the address of a peer that never
    /// got one (a refused CURVE handshake).
    mutating func count(source: String, _ category: String, times: Int = 1, example: String) {
        var key = source
        if counts[key] == nil && counts.count >= Self.maxPeers { key = "other connections" }
        counts[key, default: [:]][category, default: 0] += times
        if examples[category] == nil { examples[category] = example }
    }

    /// One line for everything counted since the last call, or nil when nothing was; resets.
    mutating func summary() -> String? {
        guard !counts.isEmpty else { return nil }
        defer { counts = [:]; examples = [:] }
        let perPeer = counts.keys.sorted().map { peer in
            let items = counts[peer]!.sorted { $0.key < $1.key }.map { "\($0.value) × \($0.key)" }
            return "\(peer): " + items.joined(separator: ", ")
        }
        let samples = examples.keys.sorted().map { "\($0): \(examples[$0]!)" }
        return perPeer.joined(separator: "; ") + " (e.g. " + samples.joined(separator: "; ") + ")"
    }
}
