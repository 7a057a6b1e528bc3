import Foundation
import Testing
@testable import AviaryNN

@Suite struct ModelSpecTests {
    @Test func mcMahan2NNHas199210Parameters() throws {
        #expect(ModelSpec.mcMahan2NN.parameterCount == 199_210)
        let net = try Network(spec: .mcMahan2NN, maxBatch: 1)
        #expect(net.layout.tensors.map(\.name) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"])
        #expect(net.layout.tensor(named: "fc1.weight")?.shape == [200, 784])
        #expect(net.layout.tensor(named: "fc3.bias")?.offset == 199_200)
        #expect(ModelSpec.mcMahan2NN.layout == net.layout)
    }

    @Test func mcMahanCNNHas1663370Parameters() throws {
        #expect(ModelSpec.mcMahanCNN.parameterCount == 1_663_370)
        let layout = try Network(spec: .mcMahanCNN, maxBatch: 1).layout
        #expect(layout.tensors.map(\.name) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                               "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])
        #expect(layout.tensor(named: "conv2.weight")?.shape == [64, 32, 5, 5])
        #expect(layout.tensor(named: "fc1.weight")?.shape == [512, 3136])
    }

    @Test func logregCountAndLayoutIsContiguous() throws {
        let spec = ModelSpec.logreg(inputs: 784, classes: 10)
        #expect(spec.parameterCount == 7_850)
        let layout = try Network(spec: spec, maxBatch: 1).layout
        var next = 0
        for t in layout.tensors {
            #expect(t.offset == next)
            next += t.count
        }
        #expect(next == layout.count)
    }

    @Test func invalidSpecsThrowNamedErrors() {
        #expect(throws: NNError.nonPositiveDimension(model: "mlp", field: "hidden[1]", value: 0)) {
            try Network(spec: .mlp(inputs: 4, hidden: [3, 0], classes: 2), maxBatch: 1)
        }
        #expect(throws: NNError.inputTooSmallForCNN(height: 3, width: 8)) {
            try Network(spec: .cnn(channels: 1, height: 3, width: 8, classes: 2), maxBatch: 1)
        }
        #expect(throws: NNError.invalidMaxBatch(0)) { try Network(spec: .mcMahan2NN, maxBatch: 0) }
        #expect(ModelSpec.logreg(inputs: 0, classes: 2).parameterCount == 0)
        #expect(NNError.invalidMaxBatch(0).description.contains("at least 1"))
    }

    @Test func specRoundTripsThroughJSON() throws {
        for spec in [ModelSpec.mcMahan2NN, .mcMahanCNN, .logreg(inputs: 3, classes: 2)] {
            let data = try JSONEncoder().encode(spec)
            #expect(try JSONDecoder().decode(ModelSpec.self, from: data) == spec)
        }
    }

    @Test func initialisationFollowsPyTorchBoundsAndIsSeeded() throws {
        let net = try Network(spec: .mcMahan2NN, maxBatch: 1)
        net.initialise(seed: 7)
        let p = net.parametersArray()
        for t in net.layout.tensors {
            let fanIn = t.name.hasPrefix("fc1") ? 784 : 200
            let bound = Float(1 / Double(fanIn).squareRoot())
            let slice = p[t.offset..<(t.offset + t.count)]
            #expect(slice.allSatisfy { abs($0) <= bound }, "\(t.name) exceeds ±1/√\(fanIn)")
            // U(±b) has max |x| close to b for thousands of draws, and mean |x| ≈ b/2.
            if t.count > 1000 {
                let meanAbs = slice.reduce(0) { $0 + Double(abs($1)) } / Double(t.count)
                #expect(abs(meanAbs - Double(bound) / 2) < 0.02 * Double(bound), "\(t.name) mean |w| \(meanAbs)")
            }
        }
        let again = try Network(spec: .mcMahan2NN, maxBatch: 1)
        again.initialise(seed: 7)
        #expect(again.parametersArray() == p)
        again.initialise(seed: 8)
        #expect(again.parametersArray() != p)
    }
}
