import Testing
import AviaryMath
@testable import AviaryNN

/// The residual-network layers (GroupNorm, strided bias-free convolution, global average
/// pooling, dropout, the residual join) against the Double references, as `LayerGradientTests`:
/// forward against the reference, backward against central differences of L = Σ R ⊙ out.
@Suite struct ResidualLayerGradientTests {
    private func d(_ x: [Float]) -> [Double] { x.map(Double.init) }
    private func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

    private func expectClose(_ actual: [Double], _ reference: [Double], _ what: String) {
        #expect(actual.count == reference.count, "\(what): sizes differ")
        let bad = Fixtures.mismatches(actual, reference, atol: LayerGradientTests.atol, rtol: LayerGradientTests.rtol)
        #expect(bad.isEmpty, "\(what): \(bad.count) mismatches, first \(bad.prefix(3))")
    }

    /// NCHW → CNHW (the engine's layout inside the conv stack) and back.
    private func cnhw<T>(_ x: [T], batch: Int, channels: Int, plane: Int) -> [T] {
        (0..<x.count).map { i in let c = i / (batch * plane), b = i / plane % batch, p = i % plane
            return x[(b * channels + c) * plane + p] }
    }
    private func nchw<T>(_ x: [T], batch: Int, channels: Int, plane: Int) -> [T] {
        (0..<x.count).map { i in let b = i / (channels * plane), c = i / plane % channels, p = i % plane
            return x[(c * batch + b) * plane + p] }
    }

    /// (batch, channels, plane, groups): two groups, a group per channel (InstanceNorm) and one group (LayerNorm).
    @Test(arguments: [(2, 4, 6, 2), (3, 6, 5, 6), (2, 3, 4, 1)])
    func groupNormForwardAndBackward(shape: (Int, Int, Int, Int)) {
        let (batch, channels, plane, groups) = shape
        let n = batch * channels * plane
        // Non-zero mean and unequal scales per group, so centring and scaling both matter.
        let x = Fixtures.uniform(n, seed: 30).enumerated().map { $0.element * Float(1 + $0.offset % 3) + 0.5 }
        let gamma = Fixtures.uniform(channels, seed: 31, low: 0.5, high: 1.5), beta = Fixtures.uniform(channels, seed: 32)
        let r = d(Fixtures.uniform(n, seed: 33))
        let ref = { (x: [Double], g: [Double], b: [Double]) in
            Reference.groupNorm(x, g, b, batch: batch, channels: channels, plane: plane, groups: groups)
        }
        let xc = cnhw(x, batch: batch, channels: channels, plane: plane)
        var y = [Float](repeating: 0, count: n), stats = [Float](repeating: 0, count: 2 * batch * groups)
        GroupNorm.forward(out: &y, statistics: &stats, inp: xc, gamma: gamma, beta: beta,
                          batch: batch, channels: channels, plane: plane, groups: groups)
        expectClose(d(nchw(y, batch: batch, channels: channels, plane: plane)), ref(d(x), d(gamma), d(beta)), "groupnorm forward \(shape)")

        var dx = [Float](repeating: 9, count: n)  // overwritten
        var dGamma = [Float](repeating: 1, count: channels), dBeta = [Float](repeating: 1, count: channels)
        let rc = cnhw(r.map(Float.init), batch: batch, channels: channels, plane: plane)
        dGamma.withUnsafeMutableBufferPointer { g in dBeta.withUnsafeMutableBufferPointer { b in
            GroupNorm.backward(dInp: &dx, sink: ParameterSink(weight: g.baseAddress!, bias: b.baseAddress!, scale: 1),
                               dOut: rc, inp: xc, statistics: stats, gamma: gamma,
                               batch: batch, channels: channels, plane: plane, groups: groups)
        } }
        let L = { (x: [Double], g: [Double], b: [Double]) in self.dot(r, ref(x, g, b)) }
        expectClose(d(nchw(dx, batch: batch, channels: channels, plane: plane)),
                    Reference.numericalGradient({ L($0, d(gamma), d(beta)) }, at: d(x), indices: Array(0..<n)), "groupnorm dx \(shape)")
        expectClose(d(dGamma).map { $0 - 1 }, Reference.numericalGradient({ L(d(x), $0, d(beta)) }, at: d(gamma), indices: Array(0..<channels)),
                    "groupnorm dγ \(shape)")
        expectClose(d(dBeta).map { $0 - 1 }, Reference.numericalGradient({ L(d(x), d(gamma), $0) }, at: d(beta), indices: Array(0..<channels)),
                    "groupnorm dβ \(shape)")
    }

    /// GroupNorm with the following ReLU fused in (`rectified`, as the network plans it) computes
    /// exactly what GroupNorm then ReLU computed, forward and backward (γ, β and dx), on planes
    /// whose length is and is not a multiple of the 8-lane loops; about half the outputs are
    /// clipped. The unfused pair is what the finite-difference checks above and NetworkGradientTests cover.
    /// (batch, channels, plane, groups)
    @Test(arguments: [(2, 4, 16, 2), (3, 6, 13, 3), (2, 8, 64, 2)])
    func rectifiedGroupNormMatchesGroupNormThenReLU(shape: (Int, Int, Int, Int)) {
        let (batch, channels, plane, groups) = shape
        let n = batch * channels * plane
        let x = Fixtures.uniform(n, seed: 50).enumerated().map { $0.element * Float(1 + $0.offset % 3) + 0.5 }
        let gamma = Fixtures.uniform(channels, seed: 51, low: 0.5, high: 1.5), beta = Fixtures.uniform(channels, seed: 52)
        let dOut = Fixtures.uniform(n, seed: 53)
        var statsA = [Float](repeating: 0, count: 2 * batch * groups), statsB = statsA
        var plain = [Float](repeating: 0, count: n), fused = [Float](repeating: 7, count: n)
        GroupNorm.forward(out: &plain, statistics: &statsA, inp: x, gamma: gamma, beta: beta,
                          batch: batch, channels: channels, plane: plane, groups: groups)
        ReLU.forward(x: &plain, count: n)
        GroupNorm.forward(out: &fused, statistics: &statsB, inp: x, gamma: gamma, beta: beta,
                          batch: batch, channels: channels, plane: plane, groups: groups, rectified: true)
        #expect(fused == plain && statsA == statsB)
        let clipped = fused.filter { $0 == 0 }.count
        #expect(clipped > n / 5 && clipped < 4 * n / 5, "the mask must matter: \(clipped) of \(n) outputs clipped")

        func backward(rectified: Bool) -> (dx: [Float], dGamma: [Float], dBeta: [Float]) {
            var g = dOut, dx = [Float](repeating: 9, count: n)
            var dGamma = [Float](repeating: 1, count: channels), dBeta = [Float](repeating: 1, count: channels)
            if !rectified { ReLU.backward(dx: &g, out: plain, count: n) }
            dGamma.withUnsafeMutableBufferPointer { gp in dBeta.withUnsafeMutableBufferPointer { bp in
                GroupNorm.backward(dInp: &dx, sink: ParameterSink(weight: gp.baseAddress!, bias: bp.baseAddress!, scale: -0.5),
                                   dOut: g, inp: x, statistics: statsA, gamma: gamma,
                                   batch: batch, channels: channels, plane: plane, groups: groups,
                                   rectifiedOutput: rectified ? fused : nil)
            } }
            return (dx, dGamma, dBeta)
        }
        let a = backward(rectified: false), b = backward(rectified: true)
        #expect(a.dx == b.dx && a.dGamma == b.dGamma && a.dBeta == b.dBeta)
    }

    /// The residual join with the block's ReLU fused in: forward is ReLU(main + shortcut) and
    /// backward hands each branch (written or added) ReLU.backward's masked gradient, bit for bit.
    @Test func rectifiedResidualJoinMatchesJoinThenReLU() {
        let n = 37  // not a multiple of 8: the scalar tail runs too
        let main = Fixtures.uniform(n, seed: 54), shortcut = Fixtures.uniform(n, seed: 55), g = Fixtures.uniform(n, seed: 56)
        var plain = [Float](repeating: 0, count: n), fused = [Float](repeating: 7, count: n)
        ResidualAdd.forward(out: &plain, main: main, shortcut: shortcut, count: n)
        ReLU.forward(x: &plain, count: n)
        ResidualAdd.forward(out: &fused, main: main, shortcut: shortcut, count: n, rectified: true)
        #expect(fused == plain)
        #expect(fused.contains(0) && fused.contains { $0 > 0 })
        var masked = g
        ReLU.backward(dx: &masked, out: plain, count: n)
        for accumulate in [false, true] {
            let start = Fixtures.uniform(n, seed: 57)
            var expected = start, actual = start
            ResidualAdd.backward(dBranch: &expected, dOut: masked, count: n, accumulate: accumulate)
            ResidualAdd.backward(dBranch: &actual, dOut: g, count: n, accumulate: accumulate, rectifiedOutput: fused)
            #expect(actual == expected, "accumulate \(accumulate)")
        }
    }

    /// GroupNorm with the residual join after it fused in (`shortcut`, as the network runs a
    /// `writesJoin` norm), called one sample at a time as the network does after a direct
    /// convolution, computes exactly what GroupNorm over the batch then the join (rectified or not)
    /// computed, statistics included. (batch, channels, plane, groups)
    @Test(arguments: [(2, 4, 16, 2), (3, 6, 13, 3), (2, 8, 64, 2)])
    func groupNormWithJoinMatchesGroupNormThenJoin(shape: (Int, Int, Int, Int)) {
        let (batch, channels, plane, groups) = shape
        let n = batch * channels * plane
        let x = Fixtures.uniform(n, seed: 60).enumerated().map { $0.element * Float(1 + $0.offset % 3) + 0.5 }
        let gamma = Fixtures.uniform(channels, seed: 61, low: 0.5, high: 1.5), beta = Fixtures.uniform(channels, seed: 62)
        let shortcut = Fixtures.uniform(n, seed: 63)
        for rectified in [false, true] {
            var statsA = [Float](repeating: 0, count: 2 * batch * groups), statsB = statsA
            var normed = [Float](repeating: 0, count: n), plain = normed, fused = [Float](repeating: 7, count: n)
            GroupNorm.forward(out: &normed, statistics: &statsA, inp: x, gamma: gamma, beta: beta,
                              batch: batch, channels: channels, plane: plane, groups: groups)
            ResidualAdd.forward(out: &plain, main: normed, shortcut: shortcut, count: n, rectified: rectified)
            for b in 0..<batch {
                GroupNorm.forward(out: &fused, statistics: &statsB, inp: x, gamma: gamma, beta: beta,
                                  batch: batch, channels: channels, plane: plane, groups: groups, rectified: rectified,
                                  shortcut: shortcut, samples: b..<(b + 1))
            }
            #expect(fused.map(\.bitPattern) == plain.map(\.bitPattern) && statsA == statsB, "rectified \(rectified)")
            if rectified { #expect(fused.contains(0) && fused.contains { $0 > 0 }) }
        }
    }

    /// The network fuses each GroupNorm whose output only its residual join reads: in ResNet-20,
    /// the second norm of the 7 blocks without a projection (in the 2 with one, the shortcut's
    /// convolution runs between norm and join); never a rectified norm, and nothing in the CNN.
    @Test func joinedNormsArePlannedWhereOnlyTheJoinReadsThem() throws {
        let resnet = try Architecture(spec: .resnet(.cifar(depth: 20)))
        let joined = resnet.steps.indices.filter { resnet.steps[$0].writesJoin }
        #expect(joined.count == 7)
        for i in joined {
            guard case .groupNorm(_, _, _, _, _, _, false) = resnet.steps[i].op, case .residualAdd = resnet.steps[i + 1].op else {
                Issue.record("step \(i) is not an unrectified norm before a join"); continue
            }
            #expect(resnet.steps[i + 1].input == resnet.steps[i].output)
        }
        let cnn = try Architecture(spec: .mcMahanCNN)
        #expect(!cnn.steps.contains { $0.writesJoin })
    }

    /// (channels, height, width, outChannels, kernel, stride, CNHW input): ResNet's 3×3 and 1×1
    /// downsampling convolutions on odd and even sizes, without a bias.
    @Test(arguments: [(2, 7, 6, 3, 3, 2, false), (2, 6, 6, 3, 1, 2, true), (3, 5, 8, 2, 3, 3, true), (1, 4, 4, 2, 3, 1, true)])
    func stridedConvForwardAndBackward(shape: (Int, Int, Int, Int, Int, Int, Bool)) {
        let (channels, height, width, outChannels, kernel, stride, innerLayout) = shape
        let batch = 2, pad = kernel / 2, plane = height * width
        let ho = Conv2D.outputSize(height, kernel: kernel, padding: pad, stride: stride)
        let wo = Conv2D.outputSize(width, kernel: kernel, padding: pad, stride: stride)
        let patch = channels * kernel * kernel, columns = batch * ho * wo
        let x = Fixtures.uniform(batch * channels * plane, seed: 34), w = Fixtures.uniform(outChannels * patch, seed: 35)
        let r = d(Fixtures.uniform(batch * outChannels * ho * wo, seed: 36))
        let ref = { (x: [Double], w: [Double]) in
            Reference.conv(x, w, nil, batch: batch, channels: channels, height: height, width: width,
                           outChannels: outChannels, kernel: kernel, pad: pad, stride: stride)
        }
        let layout = innerLayout ? PlaneLayout.cnhw(batch: batch, plane: plane) : PlaneLayout.nchw(channels: channels, plane: plane)
        let input = innerLayout ? cnhw(x, batch: batch, channels: channels, plane: plane) : x
        var col = [Float](repeating: 0, count: patch * columns)
        Conv2D.im2col(col: &col, inp: input, layout: layout, batch: batch, channels: channels, height: height, width: width,
                      kernel: kernel, padding: pad, stride: stride)
        var y = [Float](repeating: 7, count: outChannels * columns)  // no bias: the sgemm overwrites
        Conv2D.forward(out: &y, col: col, weight: w, bias: nil, columns: columns, patch: patch, outChannels: outChannels)
        expectClose(d(nchw(y, batch: batch, channels: outChannels, plane: ho * wo)), ref(d(x), d(w)), "conv forward \(shape)")

        var dCol = [Float](repeating: 0, count: patch * columns), dw = [Float](repeating: 0, count: w.count)
        dw.withUnsafeMutableBufferPointer { dwp in
            Conv2D.backward(dCol: &dCol, sink: ParameterSink(weight: dwp.baseAddress!, bias: nil, scale: 1),
                            dOut: cnhw(r.map(Float.init), batch: batch, channels: outChannels, plane: ho * wo), col: col,
                            weight: w, columns: columns, patch: patch, outChannels: outChannels)
        }
        var dx = [Float](repeating: 0, count: x.count)
        Conv2D.col2imAccumulate(dInp: &dx, layout: layout, dCol: dCol, batch: batch, channels: channels,
                                height: height, width: width, kernel: kernel, padding: pad, stride: stride)
        let dxNCHW = innerLayout ? nchw(dx, batch: batch, channels: channels, plane: plane) : dx
        expectClose(d(dxNCHW), Reference.numericalGradient({ self.dot(r, ref($0, d(w))) }, at: d(x), indices: Array(0..<x.count)), "conv dx \(shape)")
        expectClose(d(dw), Reference.numericalGradient({ self.dot(r, ref(d(x), $0)) }, at: d(w), indices: Array(0..<w.count)), "conv dW \(shape)")
    }

    @Test func globalAveragePoolForwardAndBackward() {
        let batch = 3, channels = 4, plane = 5
        let x = Fixtures.uniform(batch * channels * plane, seed: 37), r = d(Fixtures.uniform(batch * channels, seed: 38))
        var y = [Float](repeating: 0, count: batch * channels)
        GlobalAveragePool.forward(out: &y, inp: cnhw(x, batch: batch, channels: channels, plane: plane), batch: batch, channels: channels, plane: plane)
        let ref = { (x: [Double]) in Reference.globalAveragePool(x, batch: batch, channels: channels, plane: plane) }
        expectClose(d(y), ref(d(x)), "global average pool forward")
        var dx = [Float](repeating: 9, count: x.count)
        GlobalAveragePool.backward(dInp: &dx, dOut: r.map(Float.init), batch: batch, channels: channels, plane: plane)
        expectClose(d(nchw(dx, batch: batch, channels: channels, plane: plane)),
                    Reference.numericalGradient({ self.dot(r, ref($0)) }, at: d(x), indices: Array(0..<x.count)), "global average pool dx")
    }

    @Test func dropoutMaskIsSeededAndBackwardFollowsIt() {
        let n = 4000, rate: Float = 0.3
        let x = Fixtures.uniform(n, seed: 39)
        func run(seed: UInt64) -> (y: [Float], mask: [Float]) {
            var y = x, mask = [Float](repeating: 0, count: n)
            var stream = RandomStream(seed: seed, purpose: .dropout)
            Dropout.forwardTraining(x: &y, mask: &mask, count: n, rate: rate, stream: &stream)
            return (y, mask)
        }
        let a = run(seed: 1), again = run(seed: 1), other = run(seed: 2)
        #expect(a.mask == again.mask && a.y == again.y)
        #expect(a.mask != other.mask)
        #expect(a.mask.allSatisfy { $0 == 0 || $0 == 1 / (1 - rate) })
        let dropped = Double(a.mask.filter { $0 == 0 }.count) / Double(n)
        #expect(abs(dropped - Double(rate)) < 0.03, "dropped \(dropped), rate \(rate)")
        // The masked function is linear in x: its gradient is R ⊙ mask.
        let r = d(Fixtures.uniform(n, seed: 40))
        var g = r.map(Float.init)
        Dropout.backward(dx: &g, mask: a.mask, count: n)
        let numeric = Reference.numericalGradient({ x in self.dot(r, zip(x, a.mask).map { $0 * Double($1) }) }, at: d(x), indices: Array(0..<64))
        expectClose(d(Array(g.prefix(64))), numeric, "dropout dx")
    }

    @Test func residualJoinAddsForwardAndSharesItsGradient() {
        let main = Fixtures.uniform(10, seed: 41), shortcut = Fixtures.uniform(10, seed: 42), g = Fixtures.uniform(10, seed: 43)
        var y = [Float](repeating: 0, count: 10)
        ResidualAdd.forward(out: &y, main: main, shortcut: shortcut, count: 10)
        #expect(y == zip(main, shortcut).map { $0 + $1 })
        var written = [Float](repeating: 5, count: 10), added = [Float](repeating: 5, count: 10)
        ResidualAdd.backward(dBranch: &written, dOut: g, count: 10, accumulate: false)
        ResidualAdd.backward(dBranch: &added, dOut: g, count: 10, accumulate: true)
        #expect(written == g)
        #expect(added == g.map { $0 + 5 })
    }
}
