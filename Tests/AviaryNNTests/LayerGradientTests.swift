import Testing
@testable import AviaryNN

/// Each layer's Float forward against the Double reference, and its backward against central
/// differences of the Double reference for L = Σ R ⊙ out (so ∂L/∂out = R).
/// Tolerance: |engine − reference| ≤ 1e-4 + 1e-3·|reference| (Float sums of ≤ 200 terms).
@Suite struct LayerGradientTests {
    static let atol = 1e-4, rtol = 1e-3

    private func d(_ x: [Float]) -> [Double] { x.map(Double.init) }
    private func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

    private func expectClose(_ actual: [Double], _ reference: [Double], _ what: String) {
        #expect(actual.count == reference.count, "\(what): sizes differ")
        let bad = Fixtures.mismatches(actual, reference, atol: Self.atol, rtol: Self.rtol)
        #expect(bad.isEmpty, "\(what): \(bad.count) mismatches, first \(bad.prefix(3))")
    }

    @Test func denseForwardAndBackward() {
        let batch = 3, inputs = 5, outputs = 4
        let x = Fixtures.uniform(batch * inputs, seed: 1), w = Fixtures.uniform(outputs * inputs, seed: 2)
        let b = Fixtures.uniform(outputs, seed: 3), r = d(Fixtures.uniform(batch * outputs, seed: 4))
        var y = [Float](repeating: 0, count: batch * outputs)
        Dense.forward(out: &y, inp: x, weight: w, bias: b, batch: batch, inputs: inputs, outputs: outputs)
        expectClose(d(y), Reference.dense(d(x), d(w), d(b), batch: batch, inputs: inputs, outputs: outputs), "dense forward")

        let rf = r.map(Float.init)
        var dx = [Float](repeating: 0, count: batch * inputs)
        // Start the gradient sinks at 1 to check that backward accumulates (+=) rather than overwrites.
        var dw = [Float](repeating: 1, count: outputs * inputs), db = [Float](repeating: 1, count: outputs)
        dw.withUnsafeMutableBufferPointer { dwp in db.withUnsafeMutableBufferPointer { dbp in
            Dense.backward(dInp: &dx, sink: ParameterSink(weight: dwp.baseAddress!, bias: dbp.baseAddress!, scale: 1),
                           dOut: rf, inp: x, weight: w, batch: batch, inputs: inputs, outputs: outputs)
        } }
        let L = { (x: [Double], w: [Double], b: [Double]) in
            self.dot(r, Reference.dense(x, w, b, batch: batch, inputs: inputs, outputs: outputs))
        }
        expectClose(d(dx), Reference.numericalGradient({ L($0, d(w), d(b)) }, at: d(x), indices: Array(0..<x.count)), "dense dx")
        expectClose(d(dw).map { $0 - 1 }, Reference.numericalGradient({ L(d(x), $0, d(b)) }, at: d(w), indices: Array(0..<w.count)), "dense dW")
        expectClose(d(db).map { $0 - 1 }, Reference.numericalGradient({ L(d(x), d(w), $0) }, at: d(b), indices: Array(0..<b.count)), "dense db")
    }

    @Test func reluForwardAndBackward() {
        // Keep inputs away from the kink so ±h never crosses it.
        let x = Fixtures.uniform(40, seed: 5).map { $0 >= 0 ? $0 + 0.01 : $0 - 0.01 }
        let r = d(Fixtures.uniform(40, seed: 6))
        var y = x
        ReLU.forward(x: &y, count: y.count)
        #expect(d(y) == Reference.relu(d(x)))
        var g = r.map(Float.init)
        ReLU.backward(dx: &g, out: y, count: g.count)
        let numeric = Reference.numericalGradient({ self.dot(r, Reference.relu($0)) }, at: d(x), indices: Array(0..<x.count))
        expectClose(d(g), numeric, "relu dx")
    }

    /// Runs the engine conv (NCHW input → CNHW output) and checks it against the reference.
    @Test(arguments: [(1, 5, 5, 2, 3), (2, 6, 4, 3, 5), (3, 3, 7, 2, 5)])
    func convForwardAndBackward(shape: (Int, Int, Int, Int, Int)) {
        let (channels, height, width, outChannels, kernel) = shape
        let batch = 2, pad = kernel / 2, plane = height * width
        let patch = channels * kernel * kernel, columns = batch * plane
        let x = Fixtures.uniform(batch * channels * plane, seed: 7), w = Fixtures.uniform(outChannels * patch, seed: 8)
        let b = Fixtures.uniform(outChannels, seed: 9)
        let r = d(Fixtures.uniform(batch * outChannels * plane, seed: 10))  // NCHW, like the reference output
        let ref = { (x: [Double], w: [Double], b: [Double]) in
            Reference.conv(x, w, b, batch: batch, channels: channels, height: height, width: width,
                           outChannels: outChannels, kernel: kernel, pad: pad)
        }
        // CNHW index of NCHW element (n, o, p).
        let cnhw = { (n: Int, o: Int, p: Int) in (o * batch + n) * plane + p }
        let layout = PlaneLayout.nchw(channels: channels, plane: plane)

        var col = [Float](repeating: 0, count: patch * columns)
        Conv2D.im2col(col: &col, inp: x, layout: layout, batch: batch, channels: channels, height: height, width: width,
                      kernel: kernel, padding: pad)
        var y = [Float](repeating: 0, count: outChannels * columns)
        Conv2D.forward(out: &y, col: col, weight: w, bias: b, columns: columns, patch: patch, outChannels: outChannels)
        let expected = ref(d(x), d(w), d(b))
        var actual = [Double](repeating: 0, count: expected.count)
        var rC = [Float](repeating: 0, count: expected.count)
        for n in 0..<batch { for o in 0..<outChannels { for p in 0..<plane {
            actual[(n * outChannels + o) * plane + p] = Double(y[cnhw(n, o, p)])
            rC[cnhw(n, o, p)] = Float(r[(n * outChannels + o) * plane + p])
        } } }
        expectClose(actual, expected, "conv forward \(shape)")

        var dCol = [Float](repeating: 0, count: patch * columns)
        var dw = [Float](repeating: 0, count: w.count), db = [Float](repeating: 0, count: b.count)
        dw.withUnsafeMutableBufferPointer { dwp in db.withUnsafeMutableBufferPointer { dbp in
            Conv2D.backward(dCol: &dCol, sink: ParameterSink(weight: dwp.baseAddress!, bias: dbp.baseAddress!, scale: 1),
                            dOut: rC, col: col, weight: w, columns: columns, patch: patch, outChannels: outChannels)
        } }
        var dx = [Float](repeating: 0, count: x.count)
        Conv2D.col2imAccumulate(dInp: &dx, layout: layout, dCol: dCol, batch: batch, channels: channels,
                                height: height, width: width, kernel: kernel, padding: pad)
        expectClose(d(dx), Reference.numericalGradient({ self.dot(r, ref($0, d(w), d(b))) }, at: d(x), indices: Array(0..<x.count)), "conv dx \(shape)")
        // The network's "same" col2im (through a zero-bordered scratch plane) is the same adjoint; it
        // overwrites dInp without a zeroing pass, or adds to it.
        var dxSame = [Float](repeating: 7, count: x.count)
        Conv2D.sameCol2im(dInp: &dxSame, layout: layout, dCol: dCol, batch: batch, channels: channels, height: height, width: width,
                          kernel: kernel, padding: pad, accumulate: false)
        expectClose(d(dxSame), d(dx), "same col2im \(shape)")
        var dxTwice = dx
        Conv2D.sameCol2im(dInp: &dxTwice, layout: layout, dCol: dCol, batch: batch, channels: channels, height: height, width: width,
                          kernel: kernel, padding: pad, accumulate: true)
        expectClose(d(dxTwice), d(dx).map { 2 * $0 }, "same col2im accumulating \(shape)")
        expectClose(d(dw), Reference.numericalGradient({ self.dot(r, ref(d(x), $0, d(b))) }, at: d(w), indices: Array(0..<w.count)), "conv dW \(shape)")
        expectClose(d(db), Reference.numericalGradient({ self.dot(r, ref(d(x), d(w), $0)) }, at: d(b), indices: Array(0..<b.count)), "conv db \(shape)")
    }

    @Test(arguments: [(4, 4), (5, 7)])
    func maxPoolForwardAndBackward(size: (Int, Int)) {
        let (height, width) = size
        let planes = 3
        let x = Fixtures.uniform(planes * height * width, seed: 11)
        let r = d(Fixtures.uniform(planes * (height / 2) * (width / 2), seed: 12))
        var y = [Float](repeating: 0, count: r.count)
        var argmax = [Int32](repeating: 0, count: r.count)
        MaxPool2D.forward(out: &y, argmax: &argmax, inp: x, planes: planes, height: height, width: width, size: 2)
        #expect(d(y) == Reference.maxPool(d(x), planes: planes, height: height, width: width))
        var dx = [Float](repeating: 7, count: x.count)  // backward must overwrite, including rows the pool drops
        MaxPool2D.backward(dInp: &dx, dOut: r.map(Float.init), argmax: argmax, planes: planes, height: height, width: width, size: 2)
        let numeric = Reference.numericalGradient({ self.dot(r, Reference.maxPool($0, planes: planes, height: height, width: width)) },
                                                  at: d(x), indices: Array(0..<x.count))
        expectClose(d(dx), numeric, "maxpool dx \(size)")
    }

    /// The CNN's ReLU fused into its max-pool: values and gradient of pool(relu(x)), including
    /// windows whose inputs are all negative (no gradient) and rows/columns the pool drops.
    @Test(arguments: [(4, 4), (5, 7)])
    func rectifiedMaxPoolForwardAndBackward(size: (Int, Int)) {
        let (height, width) = size
        let planes = 3
        let x = Fixtures.uniform(planes * height * width, seed: 13)
        let r = d(Fixtures.uniform(planes * (height / 2) * (width / 2), seed: 14))
        let ref = { (x: [Double]) in Reference.maxPool(Reference.relu(x), planes: planes, height: height, width: width) }
        var y = [Float](repeating: 0, count: r.count)
        var argmax = [Int32](repeating: 0, count: r.count)
        MaxPool2D.rectifiedForward(out: &y, argmax: &argmax, inp: x, planes: planes, height: height, width: width, size: 2)
        #expect(d(y) == ref(d(x)))
        #expect(y.contains(0) && y.contains { $0 > 0 })
        var dx = [Float](repeating: 7, count: x.count)  // backward must overwrite, including rows the pool drops
        MaxPool2D.rectifiedBackward(dInp: &dx, dOut: r.map(Float.init), out: y, argmax: argmax,
                                    planes: planes, height: height, width: width, size: 2)
        let numeric = Reference.numericalGradient({ self.dot(r, ref($0)) }, at: d(x), indices: Array(0..<x.count))
        expectClose(d(dx), numeric, "rectified maxpool dx \(size)")
        // With a bias sink (the CNN's conv bias, one channel per plane here): scale · each plane's
        // routed gradient sum is added to its channel, the same dx written.
        var bias: [Float] = [1, 1, 1]
        var dx2 = [Float](repeating: 7, count: x.count)
        MaxPool2D.rectifiedBackward(dInp: &dx2, dOut: r.map(Float.init), out: y, argmax: argmax, biasGradient: &bias, scale: 0.5,
                                    batch: 1, planes: planes, height: height, width: width, size: 2)
        #expect(dx2 == dx)
        let plane = height * width
        expectClose(d(bias), (0..<planes).map { p in 1 + 0.5 * numeric[(p * plane)..<((p + 1) * plane)].reduce(0, +) },
                    "rectified maxpool bias gradient \(size)")
    }

    @Test func flattenIsPyTorchOrderAndInvertible() {
        let batch = 2, channels = 3, plane = 4
        // CNHW value encodes (c, n, p) so the expected NCHW position is explicit.
        let x = (0..<(channels * batch * plane)).map { i -> Float in
            let c = i / (batch * plane), n = (i / plane) % batch, p = i % plane
            return Float(100 * n + 10 * c + p)
        }
        var y = [Float](repeating: -1, count: x.count)
        Flatten.forward(out: &y, inp: x, batch: batch, channels: channels, plane: plane)
        for n in 0..<batch { for c in 0..<channels { for p in 0..<plane {
            #expect(y[n * channels * plane + c * plane + p] == Float(100 * n + 10 * c + p))
        } } }
        var back = [Float](repeating: -1, count: x.count)
        Flatten.backward(dInp: &back, dOut: y, batch: batch, channels: channels, plane: plane)
        #expect(back == x)
    }

    @Test func softmaxCrossEntropyValueAndGradient() {
        let batch = 4, classes = 5
        let z = Fixtures.uniform(batch * classes, seed: 13, low: -3, high: 3)
        let labels = Fixtures.labels(batch, classes: classes, seed: 14)
        var dz = [Float](repeating: 0, count: z.count)
        let stats = SoftmaxCrossEntropy.forward(logits: z, labels: labels, batch: batch, classes: classes, dLogits: &dz)
        let reference = Reference.meanCrossEntropy(d(z), labels, classes: classes)
        #expect(abs(stats.meanLoss - reference) < 1e-6)
        #expect(stats.count == batch)
        let numeric = Reference.numericalGradient({ Reference.meanCrossEntropy($0, labels, classes: classes) },
                                                  at: d(z), indices: Array(0..<z.count))
        expectClose(d(dz), numeric, "softmax CE dz")
    }

    @Test func softmaxCrossEntropyIsStableForHugeLogits() {
        // exp(1000) overflows Float; log-sum-exp must still give loss 0 / 1000 and finite gradients.
        let z: [Float] = [1000, 0, -1000, 0, 1000, 0]
        let labels: [Int32] = [0, 0]
        var dz = [Float](repeating: 0, count: 6)
        let stats = SoftmaxCrossEntropy.forward(logits: z, labels: labels, batch: 2, classes: 3, dLogits: &dz)
        #expect(stats.lossSum == 1000)
        #expect(stats.correct == 1)
        #expect(dz.allSatisfy { $0.isFinite })
        #expect(dz == [0, 0, 0, -0.5, 0.5, 0])
    }
}
