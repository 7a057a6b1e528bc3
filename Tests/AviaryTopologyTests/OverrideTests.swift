import Testing
@testable import AviaryTopology
import AviaryMerge

/// `--set key.path=value`: applied to the TOML before parsing, so validated like the file.
@Suite struct OverrideTests {
    static let base = """
        [run]
        name = "o"
        rounds = 3
        [data]
        dataset = "synthetic"
        clients = 4
        [model]
        kind = "mlp"
        """

    @Test func valuesOfEveryTypeAndNewTablesAreApplied() throws {
        let text = try Topology.applying(["run.rounds=7", "merge.strategy=mwa", "merge.penalty=0.5",
                                          "model.hidden=[16, 8]", "merge.checkpoints.window=2"], to: Self.base, file: "t.toml")
        let t = try Topology.parse(text, file: "t.toml")
        #expect(t.rounds == 7)
        #expect(t.merge.checkpointMerge?.window == 2)
        guard case let .mwa(config) = t.merge.strategy else { Issue.record("strategy is \(t.merge.strategy)"); return }
        #expect(config.penalty == 0.5)
        #expect(t.model.hidden == [16, 8])
        #expect(t.source == text, "the run keeps the resolved text")
    }

    @Test func badOverridesNameTheKey() throws {
        #expect(throws: TopologyError.self) { _ = try Topology.applying(["rounds"], to: Self.base, file: "t.toml") }
        #expect(throws: TopologyError.self) { _ = try Topology.applying(["run..rounds=1"], to: Self.base, file: "t.toml") }
        #expect(throws: TopologyError.self) { _ = try Topology.applying(["run.rounds.x=1"], to: Self.base, file: "t.toml") }
        let unknown = try Topology.applying(["merge.penaltyx=1"], to: Self.base, file: "t.toml")
        do {
            _ = try Topology.parse(unknown, file: "t.toml")
            Issue.record("an unknown key was accepted")
        } catch {
            #expect("\(error)".contains("merge.penaltyx"), "\(error)")
        }
        let outOfRange = try Topology.applying(["merge.strategy=mwa", "merge.penalty=99"], to: Self.base, file: "t.toml")
        #expect(throws: TopologyError.self) { _ = try Topology.parse(outOfRange, file: "t.toml") }
    }

    @Test func noOverridesKeepTheFileByteForByte() throws {
        #expect(try Topology.applying([], to: Self.base, file: "t.toml") == Self.base)
    }
}
