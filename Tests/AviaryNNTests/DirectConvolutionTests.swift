import AviaryMath
import Testing
@testable import AviaryNN

/// The direct "same" convolution (`Conv2D+Direct.swift`, AVX-512) against the engine's im2col +
/// sgemm path, which the layer and network gradient tests check against the Double reference:
/// forward (with and without bias, NCHW and CNHW input) and the flipped-kernel input gradient
/// (overwriting and accumulating), on shapes whose rows end inside a vector, span several
/// vectors and tiles, and 1-pixel planes. Skipped on CPUs without AVX-512, where the engine
/// never takes the direct path.
@Suite(.enabled(if: VectorKernels.hasDirectConvolution, "the direct convolution has an AVX-512 form only (and OPENBLAS_CORETYPE, if set, must name an AVX-512 kernel set)"))
struct DirectConvolutionTests {
    private func expectClose(_ actual: [Float], _ reference: [Float], _ what: String) {
        #expect(actual.count == reference.count, "\(what): sizes differ")
        let bad = Fixtures.mismatches(actual.map(Double.init), reference.map(Double.init), atol: 1e-4, rtol: 1e-4)
        #expect(bad.isEmpty, "\(what): \(bad.count) mismatches, first \(bad.prefix(3))")
    }

    /// (Cin, Cout, H, W, K, batch)
    /// The last two are the CNN's conv1 (NCHW input, one channel) and conv2 (CNHW, 14-wide rows).
    @Test(arguments: [(3, 4, 5, 7, 3, 2), (8, 8, 9, 17, 3, 3), (4, 12, 16, 33, 3, 1), (5, 8, 6, 6, 5, 2),
                      (16, 16, 8, 8, 3, 2), (4, 4, 1, 1, 3, 2), (8, 4, 2, 19, 5, 1), (12, 8, 32, 32, 3, 1),
                      (16, 16, 32, 32, 3, 40), (1, 32, 28, 28, 5, 3), (32, 64, 14, 14, 5, 2)])
    func matchesIm2colPath(shape: (Int, Int, Int, Int, Int, Int)) {
        let (cin, cout, height, width, kernel, batch) = shape
        let plane = height * width, seed = UInt64(cin * 1000 + cout * 100 + height * 10 + width)
        var g = ConvGeometry(inChannels: cin, outChannels: cout, height: height, width: width, kernel: kernel,
                             padding: kernel / 2, weight: 0, bias: nil, batchMajorInput: false, column: 0)
        g.transposedInputGradient = true
        // NaN: the kernels must zero every scratch float they read.
        let scratchCount = max(VectorKernels.sameConvolutionScratch(inChannels: cin, outChannels: cout, height: height, width: width, kernel: kernel),
                               VectorKernels.sameConvolutionScratch(inChannels: cout, outChannels: cin, height: height, width: width, kernel: kernel),
                               VectorKernels.sameConvolution3WeightGradientScratch(inChannels: cin, outChannels: cout, height: height,
                                                                                   width: width, batch: batch))
        var scratch = [Float](repeating: .nan, count: scratchCount)
        let x = Fixtures.uniform(batch * cin * plane, seed: seed), w = Fixtures.uniform(cout * g.patch, seed: seed + 1)
        let bias = Fixtures.uniform(cout, seed: seed + 2)
        var col = [Float](repeating: 0, count: max(cin, cout) * kernel * kernel * batch * plane)

        for layout in [PlaneLayout.cnhw(batch: batch, plane: plane), .nchw(channels: cin, plane: plane)] {
            for b in [nil, bias] {
                var expected = [Float](repeating: 0, count: cout * batch * plane), actual = expected
                b.withOptionalPointer { bp in
                    Conv2D.chunkedForward(out: &expected, inp: x, layout: layout, col: &col, weight: w, bias: bp, batch: batch, geometry: g)
                    Conv2D.directSameForward(out: &actual, inp: x, layout: layout, weight: w, bias: bp, batch: batch, geometry: g,
                                             scratch: &scratch)
                }
                expectClose(actual, expected, "forward \(shape) \(layout) bias \(b != nil)")
            }
        }

        let dOut = Fixtures.uniform(cout * batch * plane, seed: seed + 3)
        if kernel == 3 {
            // Weight gradient (and bias sums) added into sinks that start non-zero, with SGD's negative scale.
            for layout in [PlaneLayout.cnhw(batch: batch, plane: plane), .nchw(channels: cin, plane: plane)] {
                var expectedW = w, expectedB = bias, actualW = w, actualB = bias
                expectedW.withUnsafeMutableBufferPointer { ew in expectedB.withUnsafeMutableBufferPointer { eb in
                    Conv2D.chunkedWeightGradient(sink: ParameterSink(weight: ew.baseAddress!, bias: eb.baseAddress!, scale: -0.5),
                                                 dOut: dOut, inp: x, layout: layout, col: &col, batch: batch, geometry: g)
                } }
                actualW.withUnsafeMutableBufferPointer { aw in actualB.withUnsafeMutableBufferPointer { ab in
                    Conv2D.directWeightGradient(sink: ParameterSink(weight: aw.baseAddress!, bias: ab.baseAddress!, scale: -0.5),
                                                dOut: dOut, inp: x, layout: layout, batch: batch, geometry: g, scratch: &scratch)
                } }
                expectClose(actualW, expectedW, "weight gradient \(shape) \(layout)")
                expectClose(actualB, expectedB, "bias gradient \(shape) \(layout)")
            }
        }

        guard cin % 4 == 0 else { return }
        var flipped = [Float](repeating: 0, count: w.count)
        Conv2D.flipTransposed(weight: w, into: &flipped, inChannels: cin, outChannels: cout, kernel: kernel)
        for accumulate in [false, true] {
            // Overwriting must ignore what dInp held; accumulating must add to it.
            var expected = Fixtures.uniform(batch * cin * plane, seed: seed + 4), actual = expected
            Conv2D.chunkedTransposedInputGradient(dInp: &expected, accumulate: accumulate, dOut: dOut, flipped: flipped,
                                                  col: &col, batch: batch, geometry: g)
            Conv2D.directTransposedInputGradient(dInp: &actual, accumulate: accumulate, dOut: dOut, flipped: flipped,
                                                 batch: batch, geometry: g, scratch: &scratch)
            expectClose(actual, expected, "input gradient \(shape) accumulate \(accumulate)")
        }
    }
}

extension DirectConvolutionTests {
    /// The 3×3 weight gradient in tiles of 3 output channels: counts leaving a tile of 1 and of 2
    /// (5 = 3 + 2, 7 = 3 + 3 + 1, 16 = 5·3 + 1), against im2col + sgemm; several chunks of samples
    /// (16 channels at 32×32: 7 samples a chunk, then a shorter one) with NaN-filled scratch, so
    /// zeroing the scratch once per call must leave every border and gap that is read at zero.
    /// (Cin, Cout, H, W, batch)
    @Test(arguments: [(3, 5, 6, 7, 2), (8, 7, 9, 9, 11), (4, 1, 5, 5, 3), (16, 16, 32, 32, 9)])
    func weightGradientForAnyOutChannelCount(shape: (Int, Int, Int, Int, Int)) {
        let (cin, cout, height, width, batch) = shape
        let plane = height * width, seed = UInt64(cin * 1000 + cout * 100 + height * 10 + width + 7)
        let g = ConvGeometry(inChannels: cin, outChannels: cout, height: height, width: width, kernel: 3,
                             padding: 1, weight: 0, bias: nil, batchMajorInput: false, column: 0)
        #expect(Conv2D.directWeightGradient(g))
        var scratch = [Float](repeating: .nan, count: VectorKernels.sameConvolution3WeightGradientScratch(
            inChannels: cin, outChannels: cout, height: height, width: width, batch: batch))
        let x = Fixtures.uniform(batch * cin * plane, seed: seed), w = Fixtures.uniform(cout * g.patch, seed: seed + 1)
        let dOut = Fixtures.uniform(cout * batch * plane, seed: seed + 2)
        var col = [Float](repeating: 0, count: g.patch * batch * plane)
        let layout = PlaneLayout.cnhw(batch: batch, plane: plane)
        var expected = w, actual = w
        expected.withUnsafeMutableBufferPointer { e in
            Conv2D.chunkedWeightGradient(sink: ParameterSink(weight: e.baseAddress!, bias: nil, scale: 0.25),
                                         dOut: dOut, inp: x, layout: layout, col: &col, batch: batch, geometry: g)
        }
        actual.withUnsafeMutableBufferPointer { a in
            Conv2D.directWeightGradient(sink: ParameterSink(weight: a.baseAddress!, bias: nil, scale: 0.25),
                                        dOut: dOut, inp: x, layout: layout, batch: batch, geometry: g, scratch: &scratch)
        }
        expectClose(actual, expected, "weight gradient \(shape)")
    }
}

private extension Optional where Wrapped == [Float] {
    func withOptionalPointer(_ body: (UnsafePointer<Float>?) -> Void) {
        if let self { self.withUnsafeBufferPointer { body($0.baseAddress!) } } else { body(nil) }
    }
}

extension DirectConvolutionTests {
    /// 3×3 kernels on 4-, 8-, 16- and 32-wide planes run on unpadded rows with masked loads; the
    /// zero-bordered kernel is kept for other shapes. Both must give the same bits (every output
    /// sums the same products in the same order): bias or none, overwrite or accumulate, CNHW and
    /// NCHW input, a one-row plane, a tile starting at an odd vector of a 32-wide plane (whose masks
    /// alternate: 5×32 is 10 vectors, two tiles of 5; 32×32 is 9 tiles of 6 and 2 of 5), NaN-filled
    /// scratch. (Cin, Cout, H, W, batch)
    @Test(arguments: [(3, 16, 32, 32, 2), (16, 8, 16, 16, 3), (8, 12, 8, 8, 2), (4, 4, 4, 4, 3), (5, 8, 1, 16, 2),
                      (4, 8, 12, 4, 1), (32, 4, 5, 32, 2)])
    func unpaddedRowsMatchPaddedBitForBit(shape: (Int, Int, Int, Int, Int)) {
        let (cin, cout, height, width, batch) = shape
        let plane = height * width, seed = UInt64(cin * 1000 + cout * 100 + height * 10 + width + 11)
        let x = Fixtures.uniform(batch * cin * plane, seed: seed), w = Fixtures.uniform(cout * cin * 9, seed: seed + 1)
        let bias = Fixtures.uniform(cout, seed: seed + 2), start = Fixtures.uniform(batch * cout * plane, seed: seed + 3)
        let count = VectorKernels.sameConvolutionScratch(inChannels: cin, outChannels: cout, height: height, width: width, kernel: 3)
        for nchw in [false, true] {
            for b in [nil, bias] {
                for accumulate in [false, true] {
                    var outputs: [[Float]] = []
                    for padded in [true, false] {
                        var out = start, scratch = [Float](repeating: .nan, count: count)
                        b.withOptionalPointer { bp in
                            VectorKernels.sameConvolution(out: &out, outChannelStride: batch * plane, outBatchStride: plane,
                                                          inp: x, inChannelStride: nchw ? plane : batch * plane,
                                                          inBatchStride: nchw ? cin * plane : plane, weight: w, bias: bp,
                                                          batch: batch, inChannels: cin, outChannels: cout, height: height,
                                                          width: width, kernel: 3, accumulate: accumulate, paddedRows: padded,
                                                          scratch: &scratch)
                        }
                        outputs.append(out)
                    }
                    #expect(outputs[0].map(\.bitPattern) == outputs[1].map(\.bitPattern),
                            "\(shape) nchw \(nchw) bias \(b != nil) accumulate \(accumulate)")
                    #expect(outputs[1] != start, "the convolution wrote nothing: \(shape)")
                }
            }
        }
    }
}

extension DirectConvolutionTests {
    /// The CNN's conv2 takes its input gradient as the direct flipped-kernel convolution (conv1,
    /// whose input is the network's, keeps the column gradient), while the sgemm probe still times
    /// conv2's column-gradient GEMMs (Cin·K² × samples·plane, depth Cout), what an all-sgemm engine runs.
    @Test func cnnConv2InputGradientIsDirectAndTheProbeKeepsItsColumnShapes() throws {
        let architecture = try Architecture(spec: .mcMahanCNN)
        let convs = architecture.steps.compactMap { step -> ConvGeometry? in
            if case let .conv(g) = step.op { return g } else { return nil }
        }
        #expect(convs.count == 2)
        #expect(!Conv2D.directInputGradient(convs[0]) && Conv2D.directInputGradient(convs[1]))
        #expect(architecture.flippedWeightCount >= 32 * 64 * 25)
        let gemms = try Network(spec: .mcMahanCNN, maxBatch: 4).trainingGemms(batch: 4)
        #expect(gemms.contains { $0.m == 32 * 25 && $0.k == 64 && $0.transA && !$0.transB })
        #expect(!gemms.contains { $0.k == 64 * 25 })
    }
}
