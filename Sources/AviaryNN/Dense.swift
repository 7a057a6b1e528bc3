import AviaryMath

/// Fully connected layer y = x·Wᵀ + b, weight in PyTorch's (out, in) layout.
/// Signatures follow llm.c: outputs first, then inputs, then dimensions.
enum Dense {
    /// out (B, O) = inp (B, I) · weight (O, I)ᵀ + bias (O)
    static func forward(
        out: UnsafeMutablePointer<Float>,
        inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        batch: Int, inputs: Int, outputs: Int
    ) {
        for b in 0..<batch { (out + b * outputs).update(from: bias, count: outputs) }
        BLAS.sgemm(transA: false, transB: true, m: batch, n: outputs, k: inputs,
                   alpha: 1, a: inp, lda: inputs, b: weight, ldb: inputs, beta: 1, c: out, ldc: outputs)
    }

    /// dInp (B, I) = dOut (B, O) · weight (O, I), overwritten; then, if `sink` is given,
    /// sink.weight (O, I) += scale · dOutᵀ · inp and sink.bias (O) += scale · Σ_b dOut.
    /// The input gradient is computed first so a sink pointing at `weight` (folded SGD) is safe.
    static func backward(
        dInp: UnsafeMutablePointer<Float>?, sink: ParameterSink?,
        dOut: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        batch: Int, inputs: Int, outputs: Int
    ) {
        if let dInp {
            BLAS.sgemm(transA: false, transB: false, m: batch, n: inputs, k: outputs,
                       alpha: 1, a: dOut, lda: outputs, b: weight, ldb: inputs, beta: 0, c: dInp, ldc: inputs)
        }
        guard let sink else { return }
        BLAS.sgemm(transA: true, transB: false, m: outputs, n: inputs, k: batch,
                   alpha: sink.scale, a: dOut, lda: outputs, b: inp, ldb: inputs, beta: 1, c: sink.weight, ldc: inputs)
        let scale = sink.scale
        guard let biasSink = sink.bias else { return }
        for b in 0..<batch {
            let row = dOut + b * outputs
            for j in 0..<outputs { biasSink[j] += scale * row[j] }
        }
    }
}
