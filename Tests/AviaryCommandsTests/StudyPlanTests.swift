import Testing
@testable import AviaryCommands

/// The study plan `aviary results` reads: bad keys and types are refused naming the key.
@Suite struct StudyPlanTests {
    @Test func readsStudies() throws {
        let plan = try StudyPlan(text: """
            last_k = 5
            [[study]]
            title = "A"
            runs = ["runs/a", "runs/b"]
            baseline = "merge.strategy=fedavg"
            attacks = ["pgd:eps=0.1,steps=40,step=0.01"]
            skew = true
            [[study]]
            title = "B"
            runs = ["runs/c"]
            note = "z is 0 here by construction."
            """, file: "s.toml")
        #expect(plan.lastK == 5 && plan.studies.count == 2)
        #expect(plan.studies[0] == .init(title: "A", runs: ["runs/a", "runs/b"], baseline: "merge.strategy=fedavg",
                                         attacks: ["pgd:eps=0.1,steps=40,step=0.01"], skew: true))
        let grid = try StudyPlan(text: """
            [[study]]
            title = "M"
            runs = ["r"]
            attacks = ["apgd-ce:eps=0.1,steps=100"]
            [study.checkpoint_merge]
            windows = [5, 10]
            metrics = ["val_loss", "steps"]
            penalties = [0, 0.5, 2]
            samples = 500
            """, file: "s.toml").studies[0].checkpointMerge
        #expect(grid == .init(windows: [5, 10], metrics: ["val_loss", "steps"], penalties: [0, 0.5, 2], samples: 500))
        #expect(plan.studies[0].note == nil && plan.studies[1].note == "z is 0 here by construction.")
        #expect(plan.studies[1].baseline == nil && plan.studies[1].attacks.isEmpty && !plan.studies[1].skew)
    }

    @Test(arguments: [
        ("last_k = 0\n[[study]]\ntitle = \"A\"\nruns = [\"r\"]", "last_k"),
        ("[[study]]\ntitle = \"A\"\nruns = []", "study[0].runs"),
        ("[[study]]\ntitle = \"A\"\nruns = [\"r\"]\nbaseline = 1", "study[0].baseline"),
        ("[[study]]\ntitle = \"A\"\nruns = [\"r\"]\nrobust = true", "study[0].robust"),
        ("[[study]]\nruns = [\"r\"]", "study[0].title"),
        ("studies = 1", "studies"),
        ("[[study]]\ntitle = \"A\"\nruns = [\"r\"]\nnote = 3", "study[0].note"),
        ("[[study]]\ntitle = \"A\"\nruns = [\"r\"]\n[study.checkpoint_merge]\nwindows = [1]\nmetrics = [\"val_loss\"]\npenalties = [0]", "study[0].checkpoint_merge.windows"),
        ("[[study]]\ntitle = \"A\"\nruns = [\"r\"]\n[study.checkpoint_merge]\nwindows = [5]\nmetrics = [\"acc\"]\npenalties = [0]", "study[0].checkpoint_merge.metrics"),
        ("[[study]]\ntitle = \"A\"\nruns = [\"r\"]\n[study.checkpoint_merge]\nwindows = [5]\nmetrics = [\"steps\"]\npenalties = [11]", "study[0].checkpoint_merge.penalties"),
        ("[[study]]\ntitle = \"A\"\nruns = [\"r\"]\n[study.checkpoint_merge]\nwindows = [5]\nmetrics = [\"steps\"]\npenalties = [1]\nsize = 3", "study[0].checkpoint_merge.size"),
        ("[[study]]\ntitle = \"A\"\nruns = [\"r\"]\ntime_to_target = true", "study[0].time_to_target"),
        ("[[study]]\ntitle = \"A\"\nruns = [\"r\"]\nbaseline = \"b\"\ntime_to_target = 1", "study[0].time_to_target"),
    ])
    func refusesNamingTheKey(text: String, key: String) {
        #expect {
            try StudyPlan(text: text, file: "s.toml")
        } throws: { error in
            "\(error)".contains("s.toml: \(key):")
        }
    }

    @Test func timeToTargetIsReadWithItsBaseline() throws {
        let plan = try StudyPlan(text: "[[study]]\ntitle = \"A\"\nruns = [\"r\"]\nbaseline = \"b\"\ntime_to_target = true", file: "s.toml")
        #expect(plan.studies[0].timeToTarget)
        #expect(try !StudyPlan(text: "[[study]]\ntitle = \"A\"\nruns = [\"r\"]", file: "s.toml").studies[0].timeToTarget)
    }
}
