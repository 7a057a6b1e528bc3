import Testing
import AviaryMath
@testable import AviaryNN

/// The char-level model (embedding, stacked LSTM, last step, Dense) against the Double reference:
/// logits, every parameter gradient by central differences, and zero input gradients (token
/// indices are not differentiable).
@Suite struct CharModelGradientTests {
    static let spec = CharLSTMSpec(vocabulary: 7, context: 5, embedding: 3, hidden: 4, layers: 2, classes: 6)

    private func check(_ actual: [Float], _ reference: [Double], _ what: String) {
        let bad = Fixtures.mismatches(actual.map(Double.init), reference, atol: 2e-5, rtol: 2e-3)
        #expect(bad.isEmpty, "\(what): \(bad.count) of \(reference.count) mismatch, first \(bad.prefix(3))")
    }

    @Test func layoutFollowsPyTorchNames() throws {
        let layout = ModelSpec.charLSTM(Self.spec).layout
        #expect(layout.tensors.map(\.name) == ["embedding.weight",
                                               "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0",
                                               "lstm.weight_ih_l1", "lstm.weight_hh_l1", "lstm.bias_ih_l1", "lstm.bias_hh_l1",
                                               "fc.weight", "fc.bias"])
        #expect(layout.tensor(named: "lstm.weight_ih_l1")?.shape == [16, 4])
        // LEAF's Shakespeare model: 8-dim embedding, two LSTM layers of 256, 80 classes.
        let leaf = ModelSpec.charLSTM(CharLSTMSpec(vocabulary: 80, context: 80, classes: 80))
        #expect(leaf.parameterCount == 80 * 8 + (4 * 256 * (8 + 256) + 8 * 256) + (4 * 256 * 512 + 8 * 256) + 256 * 80 + 80)
    }

    @Test func gradientsMatchFiniteDifferences() throws {
        let spec = ModelSpec.charLSTM(Self.spec), batch = 3
        let net = try Network(spec: spec, maxBatch: 4)
        net.initialise(seed: 9)
        var rng = RandomStream(seed: 50, purpose: .synthetic)
        let x = (0..<(batch * Self.spec.context)).map { _ in Float(rng.nextInt(below: Self.spec.vocabulary)) }
        let y = Fixtures.labels(batch, classes: Self.spec.classes, seed: 51)
        let params = net.parametersArray().map(Double.init), xd = x.map(Double.init)
        let tensor = { (p: [Double]) in { (name: String) -> [Double] in
            let info = net.layout.tensor(named: name)!
            return Array(p[info.offset..<(info.offset + info.count)])
        } }
        let loss = { (p: [Double]) in
            Reference.meanCrossEntropy(Reference.charLSTM(Self.spec, tensor(p), input: xd, batch: batch), y, classes: Self.spec.classes)
        }
        net.zeroGradients()
        let logits = net.forward(inputs: x, batch: batch)
        check(Array(UnsafeBufferPointer(start: logits, count: batch * Self.spec.classes)),
              Reference.charLSTM(Self.spec, tensor(params), input: xd, batch: batch), "logits")
        var dLogits = [Float](repeating: 0, count: batch * Self.spec.classes)
        _ = SoftmaxCrossEntropy.forward(logits: logits, labels: y, batch: batch, classes: Self.spec.classes, dLogits: &dLogits)
        var dx = [Float](repeating: 7, count: x.count)
        net.backward(logitsGradient: dLogits, batch: batch, accumulateParameterGradients: true, inputGradient: &dx)
        let grads = net.withGradients { Array($0) }
        let indices = Array(0..<net.parameterCount)
        check(indices.map { grads[$0] }, Reference.numericalGradient(loss, at: params, indices: indices), "parameter gradient")
        #expect(dx.allSatisfy { $0 == 0 })

        // Folded SGD (trainStep with plain SGD) must equal w − lr·∂L/∂w from the accumulated gradient.
        net.setOptimizer(SGDConfig(learningRate: 0.5), anchor: nil)
        _ = net.trainStep(inputs: x, labels: y, batch: batch)
        let stepped = net.parametersArray()
        let expected = zip(params, grads).map { Float($0) - 0.5 * $1 }
        check(stepped, expected.map(Double.init), "folded SGD step")
    }
}
