import Testing
import AviaryMath
@testable import AviaryNN

@Suite struct OptimizerTests {
    /// logreg(1 → 2) has exactly 4 parameters: fc.weight (2, 1) then fc.bias (2).
    private func tinyNetwork() throws -> Network { try Network(spec: .logreg(inputs: 1, classes: 2), maxBatch: 4) }

    private func setGradients(_ net: Network, _ g: [Float]) {
        net.withGradients { buffer in for i in 0..<g.count { buffer[i] = g[i] } }
    }

    @Test func momentumWeightDecayAndProxMatchHandComputedSteps() throws {
        // w = [1, 2, −1, 0.5], g = [0.1, −0.2, 0.3, 0], anchor = [0, 1, 0, 1], lr 0.1, momentum 0.9, wd 0.01, μ 0.5.
        // Element 0, step 1: d = 0.1 + 0.01·1 + 0.5·(1 − 0) = 0.61, v = 0.61, w = 1 − 0.061 = 0.939.
        // Element 0, step 2: d = 0.1 + 0.00939 + 0.4695 = 0.57889, v = 0.9·0.61 + 0.57889 = 1.12789, w = 0.826211.
        let net = try tinyNetwork()
        net.loadParameters([1, 2, -1, 0.5])
        net.setOptimizer(SGDConfig(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01, proximalMu: 0.5), anchor: [0, 1, 0, 1])
        setGradients(net, [0.1, -0.2, 0.3, 0])
        net.applyOptimizerStep()
        expectClose(net.parametersArray(), [0.939, 1.968, -0.979, 0.5245])
        #expect(net.withGradients { Array($0) } == [0.1, -0.2, 0.3, 0], "the step must not modify the gradient buffer")
        net.applyOptimizerStep()
        expectClose(net.parametersArray(), [0.826211, 1.908832, -0.940171, 0.5698005])
    }

    @Test func plainSGDAndResetMomentum() throws {
        let net = try tinyNetwork()
        net.loadParameters([1, 2, -1, 0.5])
        net.setOptimizer(SGDConfig(learningRate: 0.5, momentum: 0.9), anchor: nil)
        setGradients(net, [1, 1, 1, 1])
        net.applyOptimizerStep()  // v = 1, w −= 0.5
        expectClose(net.parametersArray(), [0.5, 1.5, -1.5, 0])
        // A new setOptimizer call resets momentum: the next step is again w −= lr·g.
        net.setOptimizer(SGDConfig(learningRate: 0.5, momentum: 0.9), anchor: nil)
        net.applyOptimizerStep()
        expectClose(net.parametersArray(), [0, 1, -2, -0.5])
        net.setOptimizer(SGDConfig(learningRate: 0.25), anchor: nil)
        net.applyOptimizerStep()
        expectClose(net.parametersArray(), [-0.25, 0.75, -2.25, -0.75])
    }

    @Test(arguments: [SGDConfig(learningRate: 0.05), SGDConfig(learningRate: 0.05, momentum: 0.9, weightDecay: 1e-3, proximalMu: 0.1)])
    func trainStepEqualsForwardBackwardStep(config: SGDConfig) throws {
        // trainStep folds plain SGD into the dW sgemm; it must equal the explicit path.
        let spec = ModelSpec.cnn(channels: 1, height: 8, width: 8, classes: 3)
        let batch = 4
        let x = Fixtures.uniform(batch * spec.inputCount, seed: 30, low: 0, high: 1)
        let y = Fixtures.labels(batch, classes: 3, seed: 31)
        let fused = try Network(spec: spec, maxBatch: batch), explicit = try Network(spec: spec, maxBatch: batch)
        fused.initialise(seed: 1)
        explicit.initialise(seed: 1)
        let anchor = fused.parametersArray().map { $0 + 0.01 }
        fused.setOptimizer(config, anchor: anchor)
        explicit.setOptimizer(config, anchor: anchor)
        for _ in 0..<3 {
            let s1 = fused.trainStep(inputs: x, labels: y, batch: batch)
            explicit.zeroGradients()
            let logits = explicit.forward(inputs: x, batch: batch)
            var dLogits = [Float](repeating: 0, count: batch * 3)
            let s2 = SoftmaxCrossEntropy.forward(logits: logits, labels: y, batch: batch, classes: 3, dLogits: &dLogits)
            explicit.backward(logitsGradient: dLogits, batch: batch, accumulateParameterGradients: true, inputGradient: nil)
            explicit.applyOptimizerStep()
            #expect(abs(s1.lossSum - s2.lossSum) < 1e-4)
        }
        let a = fused.parametersArray(), b = explicit.parametersArray()
        let worst = zip(a, b).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-5, "fused vs explicit differ by \(worst)")
        #expect(a != anchor.map { $0 - 0.01 }, "training must move the parameters")
    }

    @Test(arguments: [ModelSpec.mcMahan2NN, .cnn(channels: 1, height: 12, width: 12, classes: 10)])
    func sameSeedGivesBitwiseIdenticalParameters(spec: ModelSpec) throws {
        BLAS.setThreads(1)
        let n = 96, batch = 32
        let x = Fixtures.uniform(n * spec.inputCount, seed: 40, low: 0, high: 1)
        let y = Fixtures.labels(n, classes: 10, seed: 41)
        func run(momentum: Float) throws -> [Float] {
            let net = try Network(spec: spec, maxBatch: batch)
            net.initialise(seed: 9)
            net.setOptimizer(SGDConfig(learningRate: 0.05, momentum: momentum), anchor: nil)
            for epoch in 0..<2 { _ = trainEpoch(network: net, features: x, labels: y, batchSize: batch, shuffleSeed: 3, epoch: epoch) }
            return net.parametersArray()
        }
        for momentum: Float in [0, 0.9] {
            let first = try run(momentum: momentum), second = try run(momentum: momentum)
            #expect(first == second, "momentum \(momentum): two runs with one seed differ")
        }
    }

    @Test func trainEpochVisitsEverySampleOnceIncludingPartialBatch() throws {
        let spec = ModelSpec.logreg(inputs: 2, classes: 2)
        let net = try Network(spec: spec, maxBatch: 4)
        let n = 10  // batches 4, 4, 2
        let x = Fixtures.uniform(n * 2, seed: 50)
        let y = Fixtures.labels(n, classes: 2, seed: 51)
        net.initialise(seed: 2)
        net.setOptimizer(SGDConfig(learningRate: 0), anchor: nil)  // lr 0: stats equal a plain evaluation
        let trained = trainEpoch(network: net, features: x, labels: y, batchSize: 4, shuffleSeed: 1, epoch: 0)
        let evaluated = net.evaluate(features: x, labels: y, batchSize: 3)
        #expect(trained.count == n)
        #expect(trained.correct == evaluated.correct)
        #expect(abs(trained.lossSum - evaluated.lossSum) < 1e-5)
    }

    private func expectClose(_ a: [Float], _ b: [Float], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.count == b.count, sourceLocation: sourceLocation)
        for (x, y) in zip(a, b) { #expect(abs(x - y) <= 1e-6 * max(1, abs(y)), "\(a) vs \(b)", sourceLocation: sourceLocation) }
    }
}
