import Foundation
import Testing
import AviaryTopology
import AviaryData
import AviaryNN

/// The CIFAR-10/ResNet and FEMNIST topologies, and the `resnet` model and CIFAR/LEAF dataset keys.
@Suite struct EngineTopologyTests {
    static let root = TopologyTests.root

    @Test func cifarResNetTopologyIsResNet20UnderPGD() throws {
        let t = try Topology.load(path: "\(Self.root)/topologies/cifar10-resnet-dirichlet-pgd.toml")
        #expect(t.data.dataset == .cifar(directory: "data/cifar-10-batches-bin", variant: .cifar10))
        #expect(t.data.partition == .dirichlet(alpha: 0.3, minSize: 10))
        #expect(t.model.kind == .resnet)
        let spec = try t.model.resolve(sampleShape: CIFARLoader.sampleShape, classes: 10)
        guard case let .resnet(r) = spec else { Issue.record("expected a ResNet, got \(spec)"); return }
        #expect(r.depth == 20 && r.baseWidth == 16 && r.groups == 2 && r.channels == 3)
        // ResNet-20 with GroupNorm and bias-free convolutions: He et al.'s 0.27 M.
        #expect(spec.parameterCount == 272_474)
        #expect(t.adversarial.mode == .pgd)
        #expect(abs(Double(t.adversarial.attack.epsilon) - 8.0 / 255) < 1e-6)
    }

    @Test func femnistTopologyIsNaturalWithTheCNN() throws {
        let t = try Topology.load(path: "\(Self.root)/topologies/femnist-natural.toml")
        #expect(t.data.dataset == .leaf(directory: "data/femnist/data", task: .femnist))
        #expect(t.data.partition == .natural)
        let spec = try t.model.resolve(sampleShape: LEAFLoader.Task.femnist.sampleShape, classes: 62)
        #expect(spec == .cnn(channels: 1, height: 28, width: 28, classes: 62))
    }

    @Test func resnetKeysAreCheckedAndIgnoredForOtherModels() throws {
        let base = "[run]\nname = \"r\"\n[data]\ndataset = \"cifar10\"\ndirectory = \"x\"\n[model]\nkind = \"resnet\"\n"
        let eight = try Topology.parse(base + "depth = 8\nwidth = 4\ngroups = 4\ndropout = 0.2\n")
        #expect(eight.model.resnet == ModelChoice.ResNetOptions(depth: 8, width: 4, groups: 4, dropout: 0.2))
        #expect(throws: TopologyError.self) { try Topology.parse(base + "depth = 9\n") }
        // Groups must divide every stage's width: 6 does not divide 4.
        #expect(throws: TopologyError.self) {
            try Topology.parse(base + "width = 4\ngroups = 6\n").model.resolve(sampleShape: [3, 32, 32], classes: 10)
        }
        let mlp = try Topology.parse("[run]\nname = \"m\"\n[model]\nkind = \"mlp\"\ndepth = 20\n")
        #expect(mlp.model.resnet == nil)
        #expect(mlp.warnings.contains { $0.contains("model.depth") })
        // The ResNet needs images.
        #expect(throws: TopologyError.self) { try Topology.parse("[run]\nname = \"s\"\n[model]\nkind = \"resnet\"\n") }
    }

    @Test func cifar100AndShakespeareKeys() throws {
        let coarse = try Topology.parse("[run]\nname = \"c\"\n[data]\ndataset = \"cifar100\"\ndirectory = \"d\"\nlabels = \"coarse\"\n")
        #expect(coarse.data.dataset == .cifar(directory: "d", variant: .cifar100Coarse))
        #expect(throws: TopologyError.self) {
            try Topology.parse("[run]\nname = \"c\"\n[data]\ndataset = \"cifar100\"\ndirectory = \"d\"\nlabels = \"medium\"\n")
        }
        let s = try Topology.parse("[run]\nname = \"s\"\n[data]\ndataset = \"shakespeare\"\ndirectory = \"d\"\npartition = \"natural\"\nclients = 5\n")
        #expect(s.data.dataset == .leaf(directory: "d", task: .shakespeare))
        #expect(throws: TopologyError.self) { try Topology.parse("[run]\nname = \"c\"\n[data]\ndataset = \"cifar10\"\n") }
    }
}
