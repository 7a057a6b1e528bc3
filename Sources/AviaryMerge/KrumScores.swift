/// Krum scores (Blanchard et al. 2017, "Machine Learning with Adversaries: Byzantine Tolerant
/// Gradient Descent"): score_i = Σ of the squared distances from update i to its n − f − 2
/// nearest other updates. Honest updates cluster, so they score low.
///
/// Cost is O(n² · P): every pair's distance is computed over blocks of coordinates that stay in
/// cache, with Double accumulation across blocks, in a fixed pair order (deterministic).
enum KrumScores {
    static func compute(inputs: [UnsafePointer<Float>], scales: [Float], count: Int, byzantine f: Int) -> [Double] {
        let n = inputs.count
        var distances = [Double](repeating: 0, count: n * n)
        // 2048 floats × n inputs: ≤ 800 KiB at n = 100; the pairs reuse it from cache.
        let block = 2048
        var start = 0
        while start < count {
            let range = start..<min(count, start + block)
            for a in 0..<n {
                for b in (a + 1)..<max(a + 1, n) {
                    distances[a * n + b] += FloatPointers.squaredDistance(
                        inputs[a], scale: scales[a], inputs[b], scale: scales[b], range: range)
                }
            }
            start = range.upperBound
        }
        let neighbours = n - f - 2
        var scores = [Double](repeating: 0, count: n)
        for a in 0..<n {
            var row: [Double] = []
            row.reserveCapacity(n - 1)
            for b in 0..<n where b != a { row.append(a < b ? distances[a * n + b] : distances[b * n + a]) }
            row.sort()
            var s = 0.0
            for d in row.prefix(neighbours) { s += d }
            scores[a] = s
        }
        return scores
    }

    /// The `m` positions with the lowest scores; ties go to the lower position (client index).
    static func best(_ scores: [Double], m: Int) -> [Int] {
        Array(scores.indices.sorted { (scores[$0], $0) < (scores[$1], $1) }.prefix(m)).sorted()
    }
}
