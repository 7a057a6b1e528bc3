/// Hints for the mistakes people coming from other frameworks make: the nearest known key for a
/// typo (`penalti` → `penalty`), and where an algorithm that is not a merge strategy lives here.
enum KeySuggestion {
    /// The known key closest to `key` by edit distance, if it is close enough to be a typo
    /// (at most a third of the key's length, and at least 1 or 2 edits for short keys).
    static func nearest(to key: String, among known: [String]) -> String? {
        let limit = max(2, key.count / 3)
        let scored = known.map { ($0, distance(key.lowercased(), $0.lowercased())) }.filter { $0.1 <= limit }
        return scored.min { ($0.1, $0.0) < ($1.1, $1.0) }?.0
    }

    /// Levenshtein distance over characters.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// `merge.strategy` values that name an algorithm Aviary has under another key.
    static let strategyElsewhere: [String: String] = [
        "fedprox": "FedProx is FedAvg with a proximal term in local training: keep strategy = \"fedavg\" and set train.proximal_mu (e.g. --set train.proximal_mu=0.01)",
        "fedavgm": "FedAvgM is a server optimiser: keep strategy = \"fedavg\" and set merge.server_optimizer = \"fedavgm\"",
        "fedadam": "FedAdam is a server optimiser: keep strategy = \"fedavg\" and set merge.server_optimizer = \"fedadam\"",
        "fedyogi": "FedYogi is a server optimiser: keep strategy = \"fedavg\" and set merge.server_optimizer = \"fedyogi\"",
    ]
}
