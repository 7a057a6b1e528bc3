import AviaryMath

/// Splits one client's samples into local train and test, seeded per client.
public enum LocalSplit {
    /// Shuffles `indices` with `RandomStream(seed, .localSplit, client)` and puts
    /// `round(count × testFraction)` of them into test; `testFraction` 0 keeps everything for training.
    public static func split(_ indices: [Int], testFraction: Double, seed: UInt64, client: Int) -> (train: [Int], test: [Int]) {
        precondition(testFraction >= 0 && testFraction < 1, "testFraction must be in [0, 1)")
        guard testFraction > 0 else { return (indices, []) }
        var rng = RandomStream(seed: seed, purpose: .localSplit, index: UInt64(client))
        var shuffled = indices
        rng.shuffle(&shuffled)
        let testCount = Int((Double(indices.count) * testFraction).rounded())
        return (Array(shuffled[testCount...]), Array(shuffled[..<testCount]))
    }
}
