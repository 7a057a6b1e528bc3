import Foundation
import Testing
import AviaryLog
import AviaryNN
import AviaryTopology

/// `[model] kind = "external"`: the parameters file becomes the tensor table and the initial
/// vector (float tensors by name, integer ones left out), bad files are refused naming the file.
@Suite struct ExternalModelTests {
    static func topology(parameters: String = "init.safetensors", extra: String = "") -> String {
        """
        [run]
        name = "ext"
        rounds = 2
        [data]
        dataset = "fashion-mnist"
        clients = 4
        [model]
        kind = "external"
        parameters = "\(parameters)"
        [processes]
        command = ["python3", "-m", "aviary_client", "--app", "m:f"]
        count = 2
        \(extra)
        """
    }

    static func directory() throws -> String {
        let dir = NSTemporaryDirectory() + "aviary-external-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A file with an F32 bias, an F32 weight, an F16 scale and an I64 counter (written as raw
    /// safetensors bytes, so dtypes other than F32 can be tested).
    static func writeMixedFile(_ path: String) throws {
        var data: [UInt8] = []
        func f32(_ v: [Float]) { for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { data += $0 } } }
        f32([0.5, -0.5])                              // b.bias      [0, 8)
        f32([1, 2, 3, 4, 5, 6])                       // a.weight    [8, 32)
        for h in [Float16(0.25), Float16(-2)] { withUnsafeBytes(of: h.bitPattern.littleEndian) { data += $0 } }  // c.scale [32, 36)
        withUnsafeBytes(of: Int64(7).littleEndian) { data += $0 }  // bn.num_batches_tracked [36, 44)
        let header = #"{"b.bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[8,32]},"c.scale":{"dtype":"F16","shape":[2],"data_offsets":[32,36]},"bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[36,44]}}"#
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes += $0 }
        bytes += Array(header.utf8) + data
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test func floatTensorsFormTheVectorByNameAndIntegersAreLeftOut() throws {
        let dir = try Self.directory()
        try Self.writeMixedFile(dir + "/init.safetensors")
        try Self.topology().write(toFile: dir + "/t.toml", atomically: true, encoding: .utf8)
        let t = try Topology.load(path: dir + "/t.toml")
        #expect(t.model.kind == .external && t.model.parameters == dir + "/init.safetensors")
        let file = try ExternalModelFile.load(path: t.model.parameters!, topology: dir + "/t.toml")
        #expect(file.model.layout.tensors.map(\.name) == ["a.weight", "b.bias", "c.scale"])
        #expect(file.initial == [1, 2, 3, 4, 5, 6, 0.5, -0.5, 0.25, -2])
        #expect(file.notFederated.map(\.name) == ["bn.num_batches_tracked"])
        let spec = t.runSpec(model: .external(file.model))
        #expect(spec.tensors == [TensorDescriptor(name: "a.weight", shape: [2, 3]), TensorDescriptor(name: "b.bias", shape: [2]),
                                 TensorDescriptor(name: "c.scale", shape: [2], dtype: "F16")])
        #expect(try t.model.resolve(sampleShape: [1, 28, 28], classes: 10).parameterCount == 10)
    }

    @Test func aFileThatIsNotSafetensorsOrHoldsNoFloatTensorIsRefusedNamingIt() throws {
        let dir = try Self.directory()
        try Data("hello, not a tensor file".utf8).write(to: URL(fileURLWithPath: dir + "/junk.safetensors"))
        #expect {
            try ExternalModelFile.load(path: dir + "/junk.safetensors", topology: "t.toml")
        } throws: { "\($0)".contains("junk.safetensors") && "\($0)".contains("model.parameters") }
        _ = try Safetensors.write(arrays: [], to: dir + "/empty.safetensors")
        #expect {
            try ExternalModelFile.load(path: dir + "/empty.safetensors", topology: "t.toml")
        } throws: { "\($0)".contains("empty.safetensors") && "\($0)".contains("no tensor") }
        #expect {
            try ExternalModelFile.load(path: dir + "/missing.safetensors", topology: "t.toml")
        } throws: { "\($0)".contains("missing.safetensors") }
    }

    @Test func parametersIsRequiredAndCheckpointMergingIsRefused() throws {
        #expect(throws: TopologyError.self) { try Topology.parse(Self.topology().replacingOccurrences(of: "parameters = \"init.safetensors\"", with: "")) }
        #expect {
            try Topology.parse(Self.topology(extra: "[merge]\nstrategy = \"fedavg\"\n[merge.checkpoints]\nwindow = 3\nmetric = \"round\""))
        } throws: { "\($0)".contains("merge.checkpoints") }
    }

    /// A hand-started aviary-server serving SDK clients started by hand needs no [processes]
    /// table; aviary-client processes are still refused for a model they cannot train.
    @Test func withoutACommandNoAviaryClientProcessesAreExpected() throws {
        let handStarted = Self.topology().replacingOccurrences(of: "[processes]\ncommand = [\"python3\", \"-m\", \"aviary_client\", \"--app\", \"m:f\"]\ncount = 2\n", with: "")
        #expect(!handStarted.contains("[processes]"))
        let t = try Topology.parse(handStarted)
        #expect(t.processes.clientProcesses == 0 && t.processes.totalClientProcesses == 0)
        #expect {
            try Topology.parse(handStarted + "\n[processes]\nclient_processes = 2\n")
        } throws: { "\($0)".contains("processes.client_processes") && "\($0)".contains("external") }
    }
}
