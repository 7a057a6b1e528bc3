import AviaryMath

/// "Same" stride-1 convolutions computed directly (`VectorKernels.sameConvolution` and
/// `sameConvolution3WeightGradient`, AVX-512) instead of im2col + sgemm: ResNet's 3×3 layers
/// have 16–64 channels, where OpenBLAS spent about as long packing the freshly written column
/// matrix as multiplying it. The forward pass, the flipped-kernel input gradient and (3×3) the
/// weight gradient run here; other CPUs, strided and 1×1 convolutions, and the 5×5 weight
/// gradient keep im2col + sgemm.
extension Conv2D {
    /// "Same" stride-1 convolutions with 3×3 (ResNet's) or 5×5 (the CNN's) kernels. The kernels take
    /// any odd size; these two are the ones measured and tested. For the CNN the forward passes and
    /// conv2's input gradient run here (its 5×5 weight gradients stay im2col + sgemm, and conv1's
    /// input gradient, wanted only by attacks, has 1 output plane): in session 13 a CNN training step
    /// at batch 32 took ~5 % less CPU time with both 5×5 forwards direct than with neither (one binary,
    /// the choice toggled and alternated), although conv2's 14-wide rows then wasted 22 % of the lanes
    /// (padded width 18; 16 since session 14, 12.5 %); conv1 (one input channel, K·K = 25) made a poor
    /// sgemm shape. Either layer alone gained less. In session 14 conv2's input gradient as the direct
    /// flipped-kernel convolution took a CNN step from 26.2/25.2/25.2 to 25.7/23.6/24.6 ms of thread
    /// CPU time (minima, 3 alternated pairs; the column gradient's sgemms are one 196-column sample each).
    private static func same(_ g: ConvGeometry) -> Bool {
        VectorKernels.hasDirectConvolution && g.stride == 1 && (g.kernel == 3 || g.kernel == 5) && g.padding == g.kernel / 2
    }

    /// Whether `g`'s forward pass runs directly here.
    static func directForward(_ g: ConvGeometry) -> Bool { same(g) && g.outChannels % 4 == 0 }

    /// Whether `g`'s flipped-kernel input gradient (`transposedInputGradient`, or
    /// `directTransposedInputGradient`) runs directly here.
    static func directInputGradient(_ g: ConvGeometry) -> Bool {
        same(g) && (g.transposedInputGradient || g.directTransposedInputGradient) && g.inChannels % 4 == 0
    }

    /// Whether `g`'s weight gradient runs directly here (the bias, if any, is summed apart).
    static func directWeightGradient(_ g: ConvGeometry) -> Bool { same(g) && g.kernel == 3 }

    /// Floats of scratch the direct paths of `g` need at batch `batch` (0 when none runs).
    static func directScratchCount(_ g: ConvGeometry, batch: Int) -> Int {
        var count = 0
        if directForward(g) {
            count = VectorKernels.sameConvolutionScratch(inChannels: g.inChannels, outChannels: g.outChannels,
                                                         height: g.height, width: g.width, kernel: g.kernel)
        }
        if directInputGradient(g) {
            count = max(count, VectorKernels.sameConvolutionScratch(inChannels: g.outChannels, outChannels: g.inChannels,
                                                                    height: g.height, width: g.width, kernel: g.kernel))
        }
        if directWeightGradient(g) {
            count = max(count, VectorKernels.sameConvolution3WeightGradientScratch(
                inChannels: g.inChannels, outChannels: g.outChannels, height: g.height, width: g.width, batch: batch))
        }
        return count
    }

    /// out (Cout, B·H·W) = weight ⋆ inp (+ bias), inp planes per `layout`; `samples`: only these
    /// samples of the batch (all by default).
    static func directSameForward(
        out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, layout: PlaneLayout,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, batch: Int, geometry g: ConvGeometry,
        scratch: UnsafeMutablePointer<Float>, samples: Range<Int>? = nil
    ) {
        let plane = g.height * g.width, range = samples ?? 0..<batch
        VectorKernels.sameConvolution(out: out + range.lowerBound * plane, outChannelStride: batch * plane, outBatchStride: plane,
                                      inp: inp + range.lowerBound * layout.batchStride, inChannelStride: layout.channelStride,
                                      inBatchStride: layout.batchStride,
                                      weight: weight, bias: bias, batch: range.count, inChannels: g.inChannels,
                                      outChannels: g.outChannels, height: g.height, width: g.width, kernel: g.kernel,
                                      accumulate: false, scratch: scratch)
    }

    /// dInp (Cin, B·H·W) = (or += when `accumulate`) flipped ⋆ dOut: the input gradient of a "same"
    /// stride-1 convolution is a "same" convolution of dOut with the flipped, transposed kernels
    /// (`flipTransposed`, (Cin, Cout, K, K)).
    static func directTransposedInputGradient(
        dInp: UnsafeMutablePointer<Float>, accumulate: Bool, dOut: UnsafePointer<Float>, flipped: UnsafePointer<Float>,
        batch: Int, geometry g: ConvGeometry, scratch: UnsafeMutablePointer<Float>
    ) {
        let plane = g.height * g.width
        VectorKernels.sameConvolution(out: dInp, outChannelStride: batch * plane, outBatchStride: plane,
                                      inp: dOut, inChannelStride: batch * plane, inBatchStride: plane,
                                      weight: flipped, bias: nil, batch: batch, inChannels: g.outChannels,
                                      outChannels: g.inChannels, height: g.height, width: g.width, kernel: g.kernel,
                                      accumulate: accumulate, scratch: scratch)
    }

    /// sink.weight += scale · ∂L/∂W (and sink.bias += scale · row sums of dOut) for a 3×3 "same" convolution.
    static func directWeightGradient(
        sink: ParameterSink, dOut: UnsafePointer<Float>, inp: UnsafePointer<Float>, layout: PlaneLayout,
        batch: Int, geometry g: ConvGeometry, scratch: UnsafeMutablePointer<Float>
    ) {
        let plane = g.height * g.width, columns = batch * plane
        VectorKernels.sameConvolution3WeightGradient(
            weightGradient: sink.weight, scale: sink.scale, dOut: dOut, outChannelStride: columns, outBatchStride: plane,
            inp: inp, inChannelStride: layout.channelStride, inBatchStride: layout.batchStride, batch: batch,
            inChannels: g.inChannels, outChannels: g.outChannels, height: g.height, width: g.width, scratch: scratch)
        guard let bias = sink.bias else { return }
        for c in 0..<g.outChannels { bias[c] += sink.scale * fastSum(dOut + c * columns, columns) }
    }
}
