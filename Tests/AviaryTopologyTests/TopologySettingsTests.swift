import Testing
@testable import AviaryTopology

/// Flattened settings: what tells two runs of one experiment (different seeds) from two experiments.
@Suite struct TopologySettingsTests {
    static func text(penalty: Double, seed: Int, name: String) -> String {
        """
        [run]
        name = "\(name)"
        rounds = 3
        [seeds]
        training = \(seed)
        [merge]
        strategy = "mwa"
        penalty = \(penalty)
        [model]
        hidden = [64, 32]
        """
    }

    @Test func seedsAndNamesAreNotPartOfTheExperiment() throws {
        let a = try TopologySettings(text: Self.text(penalty: 1, seed: 1, name: "a"), file: "a")
        let b = try TopologySettings(text: Self.text(penalty: 1, seed: 2, name: "b"), file: "b")
        let c = try TopologySettings(text: Self.text(penalty: 2, seed: 1, name: "c"), file: "c")
        #expect(a.experiment == b.experiment)
        #expect(a.experiment != c.experiment)
        #expect(a.all["merge.strategy"] == "\"mwa\"" && a.all["model.hidden"] == "[64, 32]" && a.all["run.rounds"] == "3")
        #expect(a.seeds == ["seeds.training": "1"])
        #expect(TopologySettings.distinguishingLabels([a.experiment, c.experiment]) == ["merge.penalty=1.0", "merge.penalty=2.0"])
    }

    @Test func arraysOfTablesStayOnOneLine() throws {
        let s = try TopologySettings(text: "[[system.devices]]\nname = \"phone\"\nshare = 0.5\n[[system.devices]]\nname = \"laptop\"\nshare = 0.5\n", file: "t")
        #expect(s.all["system.devices"] == "[{name = \"phone\", share = 0.5}, {name = \"laptop\", share = 0.5}]")
    }

    @Test func unreadableTextNamesTheFile() {
        #expect(throws: TopologyError.self) { try TopologySettings(text: "[run\nname=", file: "runs/x/topology.toml") }
    }
}
