import Testing
import AviaryMath
@testable import AviaryNN

/// Whole-network gradients (parameters and inputs) against central differences of the Double
/// reference model's mean cross-entropy at the engine's own Float parameters.
/// Tolerance: |engine − reference| ≤ 2e-5 + 2e-3·|reference|.
@Suite struct NetworkGradientTests {
    static let specs: [ModelSpec] = [
        .logreg(inputs: 6, classes: 3),
        .mlp(inputs: 7, hidden: [5, 4], classes: 3),
        // Small, non-square, 2-channel CNN: exercises NCHW input, CNHW inside, floor pooling (6 → 3 → 1).
        .cnn(channels: 2, height: 8, width: 6, classes: 3),
        // ResNet-8 at widths 2, 4, 8 on odd sizes (6×5 → 3×3 → 2×2): stem, an identity block, two
        // projection blocks with stride 2, GroupNorm, global average pooling.
        .resnet(ResNetSpec(channels: 2, height: 6, width: 5, classes: 3, blocksPerStage: 1, baseWidth: 2, groups: 2)),
    ]

    private func check(_ actual: [Float], _ reference: [Double], _ what: String) {
        let bad = Fixtures.mismatches(actual.map(Double.init), reference, atol: 2e-5, rtol: 2e-3)
        #expect(bad.isEmpty, "\(what): \(bad.count) of \(reference.count) mismatch, first \(bad.prefix(3))")
    }

    @Test(arguments: specs)
    func gradientsMatchFiniteDifferences(spec: ModelSpec) throws {
        let batch = 3
        let net = try Network(spec: spec, maxBatch: 4)
        net.initialise(seed: 42)
        let x = Fixtures.uniform(batch * spec.inputCount, seed: 20, low: 0, high: 1)
        let y = Fixtures.labels(batch, classes: spec.classes, seed: 21)
        let params = net.parametersArray().map(Double.init)
        let xd = x.map(Double.init)
        let loss = { (p: [Double], input: [Double]) in
            Reference.meanCrossEntropy(Reference.logits(spec: spec, layout: net.layout, params: p, input: input, batch: batch),
                                       y, classes: spec.classes)
        }

        // Engine: forward, loss gradient, backward with parameter and input gradients.
        net.zeroGradients()
        let logits = net.forward(inputs: x, batch: batch)
        let engineLogits = Array(UnsafeBufferPointer(start: logits, count: batch * spec.classes))
        check(engineLogits, Reference.logits(spec: spec, layout: net.layout, params: params, input: xd, batch: batch), "\(spec.name) logits")
        var dLogits = [Float](repeating: 0, count: batch * spec.classes)
        let stats = SoftmaxCrossEntropy.forward(logits: logits, labels: y, batch: batch, classes: spec.classes, dLogits: &dLogits)
        #expect(abs(stats.meanLoss - loss(params, xd)) < 1e-5)
        var dx = [Float](repeating: 0, count: x.count)
        net.backward(logitsGradient: dLogits, batch: batch, accumulateParameterGradients: true, inputGradient: &dx)
        let grads = net.withGradients { Array($0) }

        let indices = Fixtures.sampleIndices(net.layout, perTensor: 24)
        let numericParams = Reference.numericalGradient({ loss($0, xd) }, at: params, indices: indices)
        check(indices.map { grads[$0] }, numericParams, "\(spec.name) parameter gradient")
        let numericInputs = Reference.numericalGradient({ loss(params, $0) }, at: xd, indices: Array(0..<x.count))
        check(dx, numericInputs, "\(spec.name) input gradient")

        // The attack path must give the same input gradient without touching parameter gradients.
        net.zeroGradients()
        var dxAttack = [Float](repeating: 0, count: x.count)
        let attackStats = net.lossAndInputGradient(inputs: x, labels: y, batch: batch, inputGradient: &dxAttack)
        #expect(dxAttack == dx)
        #expect(attackStats.lossSum == stats.lossSum)
        #expect(net.withGradients { $0.allSatisfy { $0 == 0 } })
    }

    @Test(arguments: specs)
    func backwardAccumulatesIntoGradients(spec: ModelSpec) throws {
        let batch = 2
        let net = try Network(spec: spec, maxBatch: batch)
        net.initialise(seed: 3)
        let x = Fixtures.uniform(batch * spec.inputCount, seed: 22, low: 0, high: 1)
        let y = Fixtures.labels(batch, classes: spec.classes, seed: 23)
        var dLogits = [Float](repeating: 0, count: batch * spec.classes)
        net.zeroGradients()
        let logits = net.forward(inputs: x, batch: batch)
        _ = SoftmaxCrossEntropy.forward(logits: logits, labels: y, batch: batch, classes: spec.classes, dLogits: &dLogits)
        net.backward(logitsGradient: dLogits, batch: batch, accumulateParameterGradients: true, inputGradient: nil)
        let once = net.withGradients { Array($0) }
        net.backward(logitsGradient: dLogits, batch: batch, accumulateParameterGradients: true, inputGradient: nil)
        let twice = net.withGradients { Array($0) }
        #expect(once.contains { $0 != 0 })
        #expect(zip(once, twice).allSatisfy { abs(2 * $0 - $1) <= 1e-6 * max(1, abs($1)) })
    }

    /// At 32×32 a ResNet's convolutions, and at 28×28 the CNN's conv2, run in chunks of fewer
    /// samples than the batch (`Conv2D+Chunked.swift`); samples are independent (GroupNorm is per
    /// sample), so a batch's parameter gradient must be the sum of its samples' and its input
    /// gradient their rows.
    @Test(arguments: [ModelSpec.resnet(ResNetSpec(channels: 3, height: 32, width: 32, classes: 4, blocksPerStage: 1, baseWidth: 8, groups: 2)),
                      ModelSpec.cnn(channels: 1, height: 28, width: 28, classes: 4)])
    func chunkedConvolutionsMatchPerSamplePasses(spec: ModelSpec) throws {
        let batch = 3, d = spec.inputCount
        let net = try Network(spec: spec, maxBatch: batch)
        net.initialise(seed: 9)
        let x = Fixtures.uniform(batch * d, seed: 25, low: 0, high: 1)
        let dLogits = Fixtures.uniform(batch * spec.classes, seed: 26)
        net.zeroGradients()
        _ = net.forward(inputs: x, batch: batch)
        var dx = [Float](repeating: 0, count: x.count)
        net.backward(logitsGradient: dLogits, batch: batch, accumulateParameterGradients: true, inputGradient: &dx)
        let together = net.withGradients { Array($0) }
        net.zeroGradients()
        var dxApart = [Float]()
        for b in 0..<batch {
            let xb = Array(x[(b * d)..<((b + 1) * d)])
            _ = net.forward(inputs: xb, batch: 1)
            var dxb = [Float](repeating: 0, count: d)
            net.backward(logitsGradient: Array(dLogits[(b * spec.classes)..<((b + 1) * spec.classes)]), batch: 1,
                         accumulateParameterGradients: true, inputGradient: &dxb)
            dxApart += dxb
        }
        let apart = net.withGradients { Array($0) }
        let scale = together.map { abs($0) }.max() ?? 1, inputScale = dx.map { abs($0) }.max() ?? 1
        #expect(scale > 0 && inputScale > 0)
        #expect(zip(together, apart).allSatisfy { abs($0 - $1) <= 1e-4 * scale }, "parameter gradients differ")
        #expect(zip(dx, dxApart).allSatisfy { abs($0 - $1) <= 1e-4 * inputScale }, "input gradients differ")
    }

    @Test func partialBatchMatchesFullBatchRows() throws {
        // A batch smaller than maxBatch must give the same per-sample logits as the full batch.
        let spec = ModelSpec.cnn(channels: 1, height: 8, width: 8, classes: 4)
        let net = try Network(spec: spec, maxBatch: 5)
        net.initialise(seed: 5)
        let x = Fixtures.uniform(5 * spec.inputCount, seed: 24, low: 0, high: 1)
        var full = [Float](repeating: 0, count: 5 * 4), part = [Float](repeating: 0, count: 2 * 4)
        net.predictLogits(inputs: x, batch: 5, into: &full)
        net.predictLogits(inputs: x, batch: 2, into: &part)
        #expect(zip(part, full.prefix(8)).allSatisfy { abs($0 - $1) <= 1e-5 })
    }
}
