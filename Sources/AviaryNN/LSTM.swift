import AviaryMath

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One LSTM layer over a whole sequence, time-major: x (T, B, I) → h (T, B, H), PyTorch's
/// gate order (input, forget, cell, output) and parameters weight_ih (4H, I), weight_hh (4H, H),
/// bias_ih and bias_hh (4H), zero initial state.
///
/// The input projection of all T steps is one sgemm; each step then adds h_{t−1}·W_hhᵀ (one sgemm
/// per step: the recurrence is sequential). Backward runs the recurrence in reverse and then
/// takes the weight gradients of all steps in two sgemms.
enum LSTM {
    struct Shape {
        var steps: Int, batch: Int, inputs: Int, hidden: Int
        var gateWidth: Int { 4 * hidden }
    }

    /// Offsets of the layer's tensors in the flat parameter vector.
    struct Parameters {
        var weightIH: UnsafeMutablePointer<Float>, weightHH: UnsafeMutablePointer<Float>
        var biasIH: UnsafeMutablePointer<Float>, biasHH: UnsafeMutablePointer<Float>
    }

    @inline(__always) static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    /// h (T, B, H) and the caches backward needs: `gates` (T, B, 4H) after their nonlinearities
    /// and `cells` (T, B, H).
    static func forward(
        h: UnsafeMutablePointer<Float>, gates: UnsafeMutablePointer<Float>, cells: UnsafeMutablePointer<Float>,
        x: UnsafePointer<Float>, p: Parameters, shape s: Shape
    ) {
        let g4 = s.gateWidth, rows = s.steps * s.batch
        for r in 0..<rows {
            let row = gates + r * g4
            for j in 0..<g4 { row[j] = p.biasIH[j] + p.biasHH[j] }
        }
        BLAS.sgemm(transA: false, transB: true, m: rows, n: g4, k: s.inputs,
                   alpha: 1, a: x, lda: s.inputs, b: p.weightIH, ldb: s.inputs, beta: 1, c: gates, ldc: g4)
        let H = s.hidden
        for t in 0..<s.steps {
            let gt = gates + t * s.batch * g4
            if t > 0 {
                BLAS.sgemm(transA: false, transB: true, m: s.batch, n: g4, k: H,
                           alpha: 1, a: h + (t - 1) * s.batch * H, lda: H, b: p.weightHH, ldb: H, beta: 1, c: gt, ldc: g4)
            }
            for b in 0..<s.batch {
                let gate = gt + b * g4
                let c = cells + (t * s.batch + b) * H, out = h + (t * s.batch + b) * H
                let previous: UnsafePointer<Float>? = t > 0 ? UnsafePointer(cells + ((t - 1) * s.batch + b) * H) : nil
                for j in 0..<H {
                    let i = sigmoid(gate[j]), f = sigmoid(gate[H + j]), g = tanhf(gate[2 * H + j]), o = sigmoid(gate[3 * H + j])
                    gate[j] = i; gate[H + j] = f; gate[2 * H + j] = g; gate[3 * H + j] = o
                    let cell = i * g + (previous.map { f * $0[j] } ?? 0)
                    c[j] = cell
                    out[j] = o * tanhf(cell)
                }
            }
        }
    }

    /// From dH (T, B, H), which is consumed (overwritten as scratch): dX (T, B, I) overwritten
    /// when given, and `sink` += scale · parameter gradients (weightIH, weightHH, biasIH, biasHH).
    /// `dGates` (T, B, 4H) and `dCell` (B, H) are scratch. Input gradients come before the
    /// parameter update, so a sink pointing at the parameters (folded SGD) is safe.
    static func backward(
        dX: UnsafeMutablePointer<Float>?, sink: Parameters?, scale: Float,
        dH: UnsafeMutablePointer<Float>, dGates: UnsafeMutablePointer<Float>, dCell: UnsafeMutablePointer<Float>,
        x: UnsafePointer<Float>, h: UnsafePointer<Float>, gates: UnsafePointer<Float>, cells: UnsafePointer<Float>,
        p: Parameters, shape s: Shape
    ) {
        let H = s.hidden, g4 = s.gateWidth
        dCell.update(repeating: 0, count: s.batch * H)
        for t in stride(from: s.steps - 1, through: 0, by: -1) {
            let dGt = dGates + t * s.batch * g4
            for b in 0..<s.batch {
                let gate = gates + (t * s.batch + b) * g4, dgate = dGt + b * g4
                let c = cells + (t * s.batch + b) * H, dh = dH + (t * s.batch + b) * H, dc = dCell + b * H
                let previous: UnsafePointer<Float>? = t > 0 ? cells + ((t - 1) * s.batch + b) * H : nil
                for j in 0..<H {
                    let i = gate[j], f = gate[H + j], g = gate[2 * H + j], o = gate[3 * H + j]
                    let tc = tanhf(c[j])
                    let dcj = dc[j] + dh[j] * o * (1 - tc * tc)
                    let cPrev = previous?[j] ?? 0
                    dgate[j] = dcj * g * i * (1 - i)
                    dgate[H + j] = dcj * cPrev * f * (1 - f)
                    dgate[2 * H + j] = dcj * i * (1 - g * g)
                    dgate[3 * H + j] = dh[j] * tc * o * (1 - o)
                    dc[j] = dcj * f
                }
            }
            // dh_{t−1} += dGates_t · W_hh
            if t > 0 {
                BLAS.sgemm(transA: false, transB: false, m: s.batch, n: H, k: g4,
                           alpha: 1, a: dGt, lda: g4, b: p.weightHH, ldb: H, beta: 1, c: dH + (t - 1) * s.batch * H, ldc: H)
            }
        }
        let rows = s.steps * s.batch
        if let dX {
            BLAS.sgemm(transA: false, transB: false, m: rows, n: s.inputs, k: g4,
                       alpha: 1, a: dGates, lda: g4, b: p.weightIH, ldb: s.inputs, beta: 0, c: dX, ldc: s.inputs)
        }
        guard let sink else { return }
        BLAS.sgemm(transA: true, transB: false, m: g4, n: s.inputs, k: rows,
                   alpha: scale, a: dGates, lda: g4, b: x, ldb: s.inputs, beta: 1, c: sink.weightIH, ldc: s.inputs)
        if s.steps > 1 {
            // Σ_{t≥1} dGates_tᵀ · h_{t−1}: the steps are consecutive rows, so one sgemm.
            BLAS.sgemm(transA: true, transB: false, m: g4, n: H, k: (s.steps - 1) * s.batch,
                       alpha: scale, a: dGates + s.batch * g4, lda: g4, b: h, ldb: H, beta: 1, c: sink.weightHH, ldc: H)
        }
        for j in 0..<g4 {
            var sum: Float = 0
            for r in 0..<rows { sum += dGates[r * g4 + j] }
            sink.biasIH[j] += scale * sum
            sink.biasHH[j] += scale * sum
        }
    }
}
