/// Token embedding for the char-level model: each input value is a token index (stored as a
/// Float, like every input) and selects a row of the (vocabulary, dim) table. Output is
/// time-major (T, B, E), what `LSTM` reads. Indices are rounded and clamped into the table,
/// since attacks and feature skew treat inputs as real numbers.
enum Embedding {
    @inline(__always)
    static func token(_ value: Float, vocabulary: Int) -> Int {
        guard value.isFinite else { return 0 }
        return min(vocabulary - 1, max(0, Int(value.rounded())))
    }

    /// out (T, B, E) ← table[round(inp[b, t])], inp (B, T).
    static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, table: UnsafePointer<Float>,
                        batch: Int, steps: Int, dim: Int, vocabulary: Int) {
        for b in 0..<batch {
            for t in 0..<steps {
                let row = token(inp[b * steps + t], vocabulary: vocabulary)
                (out + (t * batch + b) * dim).update(from: table + row * dim, count: dim)
            }
        }
    }

    /// tableSink[round(inp[b, t])] += scale · dOut[t, b]. Indices have no gradient.
    static func backward(tableSink: UnsafeMutablePointer<Float>, scale: Float, dOut: UnsafePointer<Float>,
                         inp: UnsafePointer<Float>, batch: Int, steps: Int, dim: Int, vocabulary: Int) {
        for b in 0..<batch {
            for t in 0..<steps {
                let row = tableSink + token(inp[b * steps + t], vocabulary: vocabulary) * dim
                let g = dOut + (t * batch + b) * dim
                for j in 0..<dim { row[j] += scale * g[j] }
            }
        }
    }
}
