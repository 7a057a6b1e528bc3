import AviaryNN
import AviaryTopology
import Foundation
import Testing

/// Tests/Vectors/runspec-mlp.json: the WELCOME run spec of topologies/benchmark-fmnist-iid-pgd.toml
/// (Fashion-MNIST, MLP 784-200-200-10), the JSON a client in another language parses. Written with
/// sorted keys so it is stable; the wire's JSON has the same keys and values in any order.
/// Regenerate with `AVIARY_REGENERATE_VECTORS=1 swift test -c release --filter RunSpecVectorTests`.
@Suite struct RunSpecVectorTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let vector = root.appendingPathComponent("Tests/Vectors/runspec-mlp.json")

    static func spec() throws -> RunSpec {
        let topology = try Topology.load(path: root.appendingPathComponent("topologies/benchmark-fmnist-iid-pgd.toml").path)
        var spec = topology.runSpec(model: .mcMahan2NN)
        spec.runID = "0123456789abcdef"
        return spec
    }

    @Test func runSpecMatchesTheSharedVector() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let generated = try encoder.encode(try Self.spec()) + Data("\n".utf8)
        if ProcessInfo.processInfo.environment["AVIARY_REGENERATE_VECTORS"] == "1" { try generated.write(to: Self.vector) }
        #expect(try Data(contentsOf: Self.vector) == generated, "Tests/Vectors/runspec-mlp.json differs from the run spec the server sends")
        let decoded = try JSONDecoder().decode(RunSpec.self, from: Data(contentsOf: Self.vector))
        #expect(decoded == (try Self.spec()))
    }

    /// The tensor table is the model's layout: names, shapes and vector order, all F32.
    @Test func tensorTableIsTheMLPLayout() throws {
        let tensors = try Self.spec().tensors
        #expect(tensors.map(\.name) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"])
        #expect(tensors.map(\.shape) == [[200, 784], [200], [200, 200], [200], [10, 200], [10]])
        #expect(Set(tensors.map(\.dtype)) == ["F32"])
        #expect(tensors.reduce(0) { $0 + $1.count } == ModelSpec.mcMahan2NN.parameterCount)
    }
}
