import Foundation
import Testing
import AviaryLog
@testable import AviaryTopology

/// `aviary sweep`'s plan: the product, the names, and every grid point validated before a run.
@Suite struct SweepPlanTests {
    static let base = """
        [run]
        name = "s"
        rounds = 3
        [seeds]
        partition = 11
        sampling = 12
        training = 13
        [data]
        dataset = "synthetic"
        clients = 4
        [model]
        kind = "mlp"
        [merge]
        strategy = "mwa"
        """

    @Test func productOfGridsAndSeedsFirstAxisSlowest() throws {
        let plan = try SweepPlan(axes: [try SweepPlan.axis("merge.penalty=0,0.5"), try SweepPlan.axis("merge.metric=train_loss,local_steps")],
                                 seeds: [1, 2, 3])
        #expect(plan.runs.count == 12)
        #expect(plan.runs[0].name == "penalty=0,metric=train_loss,seed=1")
        #expect(plan.runs[1].name == "penalty=0,metric=train_loss,seed=2")
        #expect(plan.runs[3].name == "penalty=0,metric=local_steps,seed=1")
        #expect(plan.runs[11].name == "penalty=0.5,metric=local_steps,seed=3")
        #expect(plan.runs[4].overrides == ["merge.penalty=0", "merge.metric=local_steps", "seeds.base=2"])
        #expect(Set(plan.runs.map(\.name)).count == 12)
    }

    @Test func namesAreFileSafeAndAmbiguousLabelsUseTheWholeKey() throws {
        let plan = try SweepPlan(axes: [try SweepPlan.axis("model.hidden=[64,64],[32]"), try SweepPlan.axis("adversarial.epsilon=0.1"),
                                        try SweepPlan.axis("evaluation.epsilon=0.1,0.3")], seeds: nil)
        #expect(plan.axes[0].values == ["[64,64]", "[32]"], "commas inside brackets belong to the value")
        #expect(plan.runs.map(\.name) == ["hidden=64-64,adversarial.epsilon=0.1,evaluation.epsilon=0.1",
                                          "hidden=64-64,adversarial.epsilon=0.1,evaluation.epsilon=0.3",
                                          "hidden=32,adversarial.epsilon=0.1,evaluation.epsilon=0.1",
                                          "hidden=32,adversarial.epsilon=0.1,evaluation.epsilon=0.3"])
        for name in plan.runs.map(\.name) {
            #expect(name.allSatisfy { $0.isLetter || $0.isNumber || "-_.=,".contains($0) }, "\(name)")
        }
    }

    @Test func badArgumentsAreRefusedNamingThem() throws {
        #expect(throws: SweepPlanError.self) { try SweepPlan.axis("merge.penalty") }
        #expect(throws: SweepPlanError.self) { try SweepPlan.axis("merge..penalty=1") }
        #expect(throws: SweepPlanError.self) { try SweepPlan.axis("merge.penalty=0,,1") }
        #expect(throws: SweepPlanError.self) { try SweepPlan.seeds("1,x") }
        #expect(throws: SweepPlanError.self) { try SweepPlan(axes: [], seeds: nil) }
        #expect(throws: SweepPlanError.self) { try SweepPlan(axes: [.init(key: "run.name", values: ["a"])], seeds: nil) }
        #expect(throws: SweepPlanError.self) { try SweepPlan(axes: [.init(key: "merge.penalty", values: ["1", "1"])], seeds: nil) }
        #expect(throws: SweepPlanError.self) { try SweepPlan(axes: [.init(key: "seeds.base", values: ["1"])], seeds: [1]) }
        #expect(try SweepPlan.seeds("1-3,7") == [1, 2, 3, 7])
        do {
            _ = try SweepPlan(axes: [.init(key: "merge.metric", values: ["a+b", "a-b"])], seeds: nil)
            Issue.record("two runs with one directory name were accepted")
        } catch {
            #expect("\(error)".contains("metric=a-b"), "\(error)")
        }
    }

    /// Every grid point is parsed and validated before anything runs; the error names the run and the key.
    @Test func everyGridPointIsValidatedNamingTheKey() throws {
        func refusal(_ axes: [SweepPlan.Axis]) -> String {
            do {
                _ = try SweepPlan(axes: axes, seeds: [1]).topologies(text: Self.base, file: "t.toml", overrides: [], output: "runs/x")
                return "accepted"
            } catch { return "\(error)" }
        }
        let range = refusal([.init(key: "merge.penalty", values: ["0", "11"])])
        #expect(range.contains("penalty=11,seed=1") && range.contains("merge.penalty"), "\(range)")
        let unknown = refusal([.init(key: "merge.penaltyx", values: ["1"])])
        #expect(unknown.contains("unknown key 'merge.penaltyx'"), "\(unknown)")
        let type = refusal([.init(key: "run.rounds", values: ["3", "many"])])
        #expect(type.contains("run.rounds"), "\(type)")
        let choice = refusal([.init(key: "merge.metric", values: ["train_loss", "accuracy"])])
        #expect(choice.contains("merge.metric"), "\(choice)")
        // A key that does not take effect (FedAvg ignores the penalty) would vary nothing.
        let ignored = refusal([.init(key: "merge.strategy", values: ["fedavg"]), .init(key: "merge.penalty", values: ["0", "1"])])
        #expect(ignored.contains("--grid merge.penalty does not take effect"), "\(ignored)")
    }

    @Test func eachRunGetsItsSettingsSeedsAndOutput() throws {
        let plan = try SweepPlan(axes: [.init(key: "merge.penalty", values: ["0.5", "2"])], seeds: [4, 9])
        let topologies = try plan.topologies(text: Self.base, file: "t.toml", overrides: ["run.rounds=2"], output: "runs/my sweep")
        #expect(topologies.count == 4)
        #expect(topologies.allSatisfy { $0.rounds == 2 && $0.output == "runs/my sweep" })
        // --seeds S is seeds.base = S: the file's explicit seeds give way to S+1, S+2, S+3.
        #expect(topologies[1].seeds == Topology.Seeds(partition: 10, sampling: 11, training: 12))
        #expect(topologies[0].config["seeds.base"] == .int(4))
        #expect(SweepPlan.settings(of: plan.runs[2], in: topologies[2]) == ["merge.penalty": .double(2)])
    }

    /// `run_start.config`: every key that takes effect, defaults included, by dotted path.
    @Test func resolvedConfigHasEverySectionWithDefaults() throws {
        let t = try Topology.parse(Self.base + "\n[evaluation]\nrobust = true\n", file: "t.toml")
        let c = t.resolvedConfig
        for key in ["run.name", "run.rounds", "run.output", "seeds.base", "seeds.partition", "seeds.sampling", "seeds.training",
                    "data.dataset", "data.clients", "data.partition", "data.local_test_fraction", "model.kind", "model.hidden",
                    "train.learning_rate", "train.local_epochs", "train.batch_size", "train.max_local_steps",
                    "adversarial.mode", "adversarial.epsilon", "adversarial.steps", "adversarial.step_size",
                    "evaluation.robust", "evaluation.epsilon", "evaluation.steps", "evaluation.step_size", "evaluation.subset",
                    "merge.strategy", "merge.metric", "merge.penalty", "merge.server_optimizer", "server.clients_per_round",
                    "server.round_timeout", "processes.client_processes", "processes.blas_threads"] {
            #expect(c[key] != nil, "config lacks \(key)")
        }
        #expect(c["train.learning_rate"] == .double(0.05))
        #expect(c["adversarial.epsilon"] == .double(0.1), "recorded as written, not as the Float's widening")
        #expect(c["evaluation.steps"] == .int(20))
        #expect(c["model.hidden"] == .array([.int(200), .int(200)]))
        #expect(c["train.max_local_steps"] == .null)
        #expect(c["seeds.partition"] == .int(11))
        // Keys that do not apply under the other settings are left out.
        #expect(c["merge.trim_beta"] == nil && c["merge.fedavg_weight"] == nil)
        let fedavg = try Topology.parse(Self.base.replacingOccurrences(of: "\"mwa\"", with: "\"fedavg\""), file: "t.toml").config
        #expect(fedavg["merge.penalty"] == nil && fedavg["merge.fedavg_weight"] == .string("dataset_size"))
        #expect(fedavg["evaluation.epsilon"] == nil, "robust evaluation is off")
    }

    /// An unset `shards_total` is recorded as the number of shards the partitioner cuts
    /// (shards_per_client × clients), not as null; the spec still leaves it to the partitioner.
    @Test func unsetShardsTotalIsRecordedAsItsEffectiveDefault() throws {
        let shards = Self.base.replacingOccurrences(of: "dataset = \"synthetic\"", with: "dataset = \"fashion-mnist\"\npartition = \"shards\"\nshards_per_client = 3")
        let unset = try Topology.parse(shards, file: "t.toml")
        #expect(unset.resolvedConfig["data.shards_total"] == .int(12))
        #expect(unset.data.partition == .shards(perClient: 3, shardsTotal: nil))
        let set = try Topology.parse(try Topology.applying(["data.shards_total=20"], to: shards, file: "t.toml"), file: "t.toml")
        #expect(set.resolvedConfig["data.shards_total"] == .int(20))
        #expect(set.data.partition == .shards(perClient: 3, shardsTotal: 20))
        #expect(try Topology.parse(Self.base, file: "t.toml").config["data.shards_total"] == nil, "only under partition = \"shards\"")
    }

    @Test func setSeedsBaseKeepsSeedsSetAlongsideIt() throws {
        let text = try Topology.applying(["seeds.base=5", "seeds.training=99"], to: Self.base, file: "t.toml")
        let t = try Topology.parse(text, file: "t.toml")
        #expect(t.seeds == Topology.Seeds(partition: 6, sampling: 7, training: 99))
    }
}
