import Foundation
import Testing
import AviaryLog

/// `aviary eval` on a tiny synthetic run's checkpoints. Synthetic features have no value range,
/// so the attacks run unclipped; that is all PGD and FGSM need.
@Suite(.serialized) struct EvalCommandTests {
    static let run: (dir: String, topology: String, result: Harness.Result)? = {
        let dir = Harness.temporaryDirectory("eval")
        let topo = dir + "/t.toml"
        let text = Harness.topology(name: "ev", output: dir, clients: 8, rounds: 3, processes: 2, extra: """

            [evaluation]
            robust = true
            validation_fraction = 0.2
            subset = 200
            epsilon = 0.3
            step_size = 0.05
            steps = 10
            """)
        try? text.write(toFile: topo, atomically: true, encoding: .utf8)
        guard let result = try? Harness.run("aviary", ["run", topo]) else { return nil }
        return (dir, topo, result)
    }()

    struct Row: Decodable { var attack: String; var accuracy: Double; var loss: Double?; var samples: Int }
    struct Report: Decodable { var rows: [Row] }

    /// JSONDecoder, not JSONSerialization: the latter can round the last digit of a double.
    static func rows(_ path: String) throws -> [Row] {
        let data = try #require(FileManager.default.contents(atPath: path))
        return try JSONDecoder().decode(Report.self, from: data).rows
    }

    @Test func cleanAccuracyEqualsTheLoggedFinalAccuracy() throws {
        let run = try #require(Self.run)
        #expect(run.result.status == 0, "\(run.result.output)")
        let log = try AggregationLog.read(path: run.dir + "/ev/aggregation.jsonl")
        let final = try #require(log.runEnd?.finalEval)
        let json = run.dir + "/e.json"
        let out = try Harness.run("aviary", ["eval", run.dir + "/ev/checkpoints/round-0003.safetensors", "--topology", run.topology, "--json", json])
        #expect(out.status == 0, "\(out.output)")
        let rows = try Self.rows(json)
        // Default attacks: the topology's own, so the robust row reproduces the server's too.
        #expect(rows.count == 2, "\(rows)")
        #expect(rows[0].attack == "clean")
        #expect(rows[0].accuracy == final.cleanAccuracy)
        #expect(rows[0].loss == final.cleanLoss)
        #expect(rows[0].samples == final.samples)
        #expect(rows[1].accuracy == final.robustAccuracy)
        #expect(out.output.contains("clean"))
    }

    @Test func wrongTensorShapeIsNamed() throws {
        let run = try #require(Self.run)
        let file = try Safetensors.read(path: run.dir + "/ev/checkpoints/round-0003.safetensors")
        // fc2.weight transposed: same element count, wrong shape.
        let arrays = try file.tensors.map { t in
            (name: t.name, shape: t.name == "fc2.weight" ? Array(t.shape.reversed()) : t.shape, values: try file.values(named: t.name))
        }
        let bad = run.dir + "/bad.safetensors"
        _ = try Safetensors.write(arrays: arrays, metadata: [:], to: bad)
        let out = try Harness.run("aviary", ["eval", bad, "--topology", run.topology])
        #expect(out.status != 0)
        #expect(out.output.contains("tensor 'fc2.weight' has shape [32, 10], expected [10, 32]"), "\(out.output)")
    }

    @Test func morePGDStepsNeverRaiseRobustAccuracy() throws {
        let run = try #require(Self.run)
        let json = run.dir + "/pgd.json"
        let out = try Harness.run("aviary", ["eval", run.dir + "/ev/checkpoints/round-0003.safetensors", "--topology", run.topology,
                                             "--attack", "pgd:eps=0.3,steps=10,step=0.05", "--attack", "pgd:eps=0.3,steps=40,step=0.05",
                                             "--json", json])
        #expect(out.status == 0, "\(out.output)")
        let rows = try Self.rows(json)
        let pgd10 = rows[1].accuracy, pgd40 = rows[2].accuracy
        #expect(pgd40 <= pgd10, "PGD-40 \(pgd40) vs PGD-10 \(pgd10)")
        #expect(rows[0].accuracy >= pgd10)
    }

    @Test func weakAttackIsRefusedUnlessAllowed() throws {
        let run = try #require(Self.run)
        let checkpoint = run.dir + "/ev/checkpoints/round-0003.safetensors"
        let refused = try Harness.run("aviary", ["eval", checkpoint, "--topology", run.topology, "--attack", "pgd:eps=0.3,steps=2,step=0.01"])
        #expect(refused.status != 0)
        #expect(refused.output.contains("--allow-weak"), "\(refused.output)")
        let allowed = try Harness.run("aviary", ["eval", checkpoint, "--topology", run.topology, "--attack", "pgd:eps=0.3,steps=2,step=0.01", "--allow-weak"])
        #expect(allowed.status == 0, "\(allowed.output)")
    }

    @Test func apgdIsNoWeakerThanPGD() throws {
        let run = try #require(Self.run)
        let json = run.dir + "/apgd.json"
        let out = try Harness.run("aviary", ["eval", run.dir + "/ev/checkpoints/round-0003.safetensors", "--topology", run.topology,
                                             "--attack", "pgd:eps=0.3,steps=20,step=0.05", "--attack", "apgd-ce:eps=0.3,steps=20",
                                             "--attack", "autoattack-lite:eps=0.3,steps=20", "--json", json])
        #expect(out.status == 0, "\(out.output)")
        let rows = try Self.rows(json)
        #expect(rows.map(\.attack) == ["clean", "PGD-20-linf ε=0.3 α=0.05", "APGD-CE-20-linf ε=0.3", "AutoAttack-lite-20-linf ε=0.3"])
        #expect(rows[2].accuracy <= rows[1].accuracy, "APGD-CE \(rows[2].accuracy) vs PGD-20 \(rows[1].accuracy)")
        #expect(rows[3].accuracy <= rows[2].accuracy, "the ensemble adds APGD-DLR to APGD-CE")
        let refused = try Harness.run("aviary", ["eval", run.dir + "/ev/checkpoints/round-0003.safetensors", "--topology", run.topology,
                                                 "--attack", "apgd-ce:eps=0.3,step=0.1"])
        #expect(refused.status != 0 && refused.output.contains("unknown key 'step'"), "\(refused.output)")
    }
}
