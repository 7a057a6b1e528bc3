/// One sgemm the engine issues: C (m × n) = op(A) (m × k) · op(B) (k × n); for cost accounting
/// and for benchmarking OpenBLAS on the model's shapes. Convolutions issue each of theirs as
/// several calls over chunks of samples (`Conv2D+Chunked.swift`); the list has one entry per
/// call, with the chunk's shape, as the engine issues them.
public struct GemmShape: Sendable, Hashable, CustomStringConvertible {
    public let m: Int, n: Int, k: Int
    public let transA: Bool, transB: Bool
    /// 2·m·n·k
    public var flops: Int { 2 * m * n * k }
    public var description: String { "\(m)×\(k)\(transA ? "ᵀ" : "")·\(k)×\(n)\(transB ? "ᵀ" : "")" }

    public init(m: Int, n: Int, k: Int, transA: Bool, transB: Bool) {
        self.m = m; self.n = n; self.k = k; self.transA = transA; self.transB = transB
    }
}

extension Network {
    /// The sgemms of one training step (forward, input gradients except the network input's,
    /// weight gradients) on a batch of `batch`: forward calls first, then backward ones.
    public func trainingGemms(batch: Int) -> [GemmShape] { gemms(batch: batch, weightGradients: true, inputGradient: false) }

    /// The sgemms of one attack step (forward and input gradients down to the input, no weight gradients).
    public func attackGemms(batch: Int) -> [GemmShape] { gemms(batch: batch, weightGradients: false, inputGradient: true) }

    private func gemms(batch: Int, weightGradients: Bool, inputGradient: Bool) -> [GemmShape] {
        var forward: [GemmShape] = [], backward: [GemmShape] = []
        for step in architecture.steps {
            let needsInput = step.input != 0 || inputGradient
            switch step.op {
            case let .dense(i, o, _, _):
                forward.append(GemmShape(m: batch, n: o, k: i, transA: false, transB: true))
                if needsInput { backward.append(GemmShape(m: batch, n: i, k: o, transA: false, transB: false)) }
                if weightGradients { backward.append(GemmShape(m: o, n: i, k: batch, transA: true, transB: false)) }
            case let .conv(g):
                let outPlane = g.outHeight * g.outWidth, depth = g.outChannels * g.kernel * g.kernel
                for n in Conv2D.chunkSizes(batch: batch, samples: Conv2D.chunkSamples(rows: g.patch, plane: outPlane, batch: batch)) {
                    forward.append(GemmShape(m: g.outChannels, n: n * outPlane, k: g.patch, transA: false, transB: false))
                }
                if needsInput && g.transposedInputGradient {
                    let plane = g.height * g.width
                    for n in Conv2D.chunkSizes(batch: batch, samples: Conv2D.chunkSamples(rows: depth, plane: plane, batch: batch)) {
                        backward.append(GemmShape(m: g.inChannels, n: n * plane, k: depth, transA: false, transB: false))
                    }
                } else if needsInput {
                    for n in Conv2D.chunkSizes(batch: batch, samples: Conv2D.chunkSamples(rows: g.patch, plane: outPlane, batch: batch)) {
                        backward.append(GemmShape(m: g.patch, n: n * outPlane, k: g.outChannels, transA: true, transB: false))
                    }
                }
                if weightGradients {
                    for n in Conv2D.chunkSizes(batch: batch, samples: Conv2D.chunkSamples(rows: g.patch, plane: outPlane, batch: batch)) {
                        backward.append(GemmShape(m: g.outChannels, n: g.patch, k: n * outPlane, transA: false, transB: true))
                    }
                }
            case let .lstm(g):
                let rows = g.steps * batch, gates = 4 * g.hidden
                forward.append(GemmShape(m: rows, n: gates, k: g.inputs, transA: false, transB: true))
                for _ in 1..<max(1, g.steps) {
                    forward.append(GemmShape(m: batch, n: gates, k: g.hidden, transA: false, transB: true))
                    backward.append(GemmShape(m: batch, n: g.hidden, k: gates, transA: false, transB: false))
                }
                if needsInput { backward.append(GemmShape(m: rows, n: g.inputs, k: gates, transA: false, transB: false)) }
                if weightGradients {
                    backward.append(GemmShape(m: gates, n: g.inputs, k: rows, transA: true, transB: false))
                    if g.steps > 1 { backward.append(GemmShape(m: gates, n: g.hidden, k: rows - batch, transA: true, transB: false)) }
                }
            case .relu, .maxPool, .flatten, .groupNorm, .globalAveragePool, .dropout, .residualAdd, .embedding, .lastStep:
                break
            }
        }
        return forward + backward
    }
}
