import Foundation
import Testing
import AviaryTestSupport
import AviaryLog

/// The CNN, PGD local training, a robust aggregator and robust evaluation, through the real
/// processes on real Fashion-MNIST: every layer of the system at once, kept small.
@Suite(.enabled(if: Prerequisite.enabled(FashionMNISTFixture.isAvailable), FashionMNISTFixture.skipReason))
struct CNNFederationTests {
    @Test func cnnWithPGDAndMedianRunsEndToEnd() throws {
        let dir = Harness.temporaryDirectory("cnn")
        let topo = dir + "/t.toml"
        try """
        [run]
        name = "cnn"
        rounds = 1
        output = "\(dir)"
        [data]
        dataset = "fashion-mnist"
        clients = 3
        partition = "shards"
        shards_per_client = 2
        train_limit = 300
        [model]
        kind = "cnn"
        [train]
        batch_size = 32
        [adversarial]
        mode = "pgd"
        steps = 2
        [evaluation]
        robust = true
        steps = 2
        step_size = 0.05
        subset = 50
        [merge]
        strategy = "median"
        [processes]
        client_processes = 3
        """.write(toFile: topo, atomically: true, encoding: .utf8)
        let result = try Harness.run("aviary", ["run", topo])
        #expect(result.status == 0, "\(result.output)")
        let log = try AggregationLog.read(path: dir + "/cnn/aggregation.jsonl")
        #expect(log.runStart?.parameters == 1_663_370)
        let round = try #require(log.rounds.first)
        #expect(round.accepted == [0, 1, 2])
        #expect(round.clientMetrics.values.allSatisfy { $0["adv_loss"] != nil && $0["local_steps"] == 3 })
        #expect(round.eval?.robustSamples == 50)
        let file = try Safetensors.read(path: dir + "/cnn/checkpoints/round-0001.safetensors")
        #expect(file.tensor(named: "conv1.weight")?.shape == [32, 1, 5, 5])
        #expect(file.tensor(named: "fc1.weight")?.shape == [512, 3136])
        #expect(try file.flatValues().allSatisfy(\.isFinite))
    }
}
