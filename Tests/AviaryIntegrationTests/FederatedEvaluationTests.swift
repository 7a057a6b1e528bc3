import Foundation
import Testing
import AviaryLog

/// `[evaluation] mode = "federated"` end to end: real `aviary-server` and `aviary-client`
/// processes over ZeroMQ; the clients answer EVALUATE on their own held-out splits.
@Suite(.serialized) struct FederatedEvaluationTests {
    @Test func builtInModelEvaluatedByItsClients() throws {
        let dir = Harness.temporaryDirectory("fedeval")
        let topo = dir + "/t.toml"
        try Harness.topology(name: "fedeval", output: dir, clients: 4, rounds: 3, processes: 2, epochs: 1,
                             extra: "\n[evaluation]\nmode = \"federated\"\n")
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let result = try Harness.run("aviary", ["run", topo])
        #expect(result.status == 0, "aviary run failed:\n\(result.output)")

        let log = try AggregationLog.read(path: dir + "/fedeval/aggregation.jsonl")
        #expect(log.rounds.count == 3)
        #expect(log.runEnd?.status == "completed")
        let notes = log.runStart?.notes ?? []
        #expect(!notes.contains { $0.hasPrefix("server test set:") }, "the server evaluates nothing: \(notes)")
        #expect(notes.contains { $0.hasPrefix("evaluation: federated") }, "\(notes)")
        for round in log.rounds {
            let eval = try #require(round.eval, "round \(round.round) has no eval")
            #expect(eval.mode == "federated")
            let clients = try #require(eval.clients)
            #expect(clients.keys.sorted() == ["0", "1", "2", "3"], "every registered client evaluates")
            #expect(eval.refused == nil && eval.missing == nil)
            // The aggregate is the sample-weighted mean of the clients' own results.
            let samples = clients.values.map { $0["samples"]! }.reduce(0, +)
            #expect(Double(eval.samples) == samples)
            let accuracy = clients.values.map { $0["accuracy"]! * $0["samples"]! }.reduce(0, +) / samples
            let loss = clients.values.map { $0["loss"]! * $0["samples"]! }.reduce(0, +) / samples
            #expect(abs(eval.cleanAccuracy - accuracy) < 1e-12 && abs(eval.cleanLoss - loss) < 1e-12)
        }
        // A client's evaluation of the model after round k is what it measures on the same split
        // when it receives that model to train in round k + 1 (`global_val_accuracy`).
        for (evaluated, next) in zip(log.rounds, log.rounds.dropFirst()) {
            for (client, metrics) in next.clientMetrics {
                let measured = try #require(evaluated.eval?.clients?[client])
                #expect(metrics["global_val_accuracy"] == measured["accuracy"], "client \(client), round \(next.round)")
                #expect(metrics["global_val_loss"] == measured["loss"], "client \(client), round \(next.round)")
            }
        }
        #expect(log.runEnd?.finalEval == log.rounds.last?.eval)

        let logs = try Harness.run("aviary", ["logs", dir + "/fedeval"])
        #expect(logs.status == 0, "\(logs.output)")
        let last = try #require(log.rounds.last?.eval)
        #expect(logs.output.contains(String(format: "%.4f", last.cleanAccuracy)), "aviary logs shows the federated accuracy:\n\(logs.output)")
        #expect(logs.output.contains("federated"), "aviary logs says who evaluated:\n\(logs.output)")
        let report = try Harness.run("aviary", ["report", dir + "/fedeval"])
        #expect(report.status == 0, "\(report.output)")
        let html = try String(contentsOfFile: dir + "/fedeval/report.html", encoding: .utf8)
        #expect(html.contains("federated evaluation"), "the report says who evaluated")
    }

    /// A seeded sample of 2 of the 4 clients evaluates, under the run's PGD attack on robust rounds.
    @Test func aSampleOfClientsEvaluatesRobustly() throws {
        let dir = Harness.temporaryDirectory("fedrobust")
        let topo = dir + "/t.toml"
        try Harness.topology(name: "fedrobust", output: dir, clients: 4, rounds: 2, processes: 1, epochs: 1,
                             extra: """

                             [evaluation]
                             mode = "federated"
                             clients = 2
                             robust = true
                             attack = "pgd"
                             epsilon = 0.1
                             step_size = 0.025
                             steps = 5
                             subset = 20
                             """)
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let result = try Harness.run("aviary", ["run", topo])
        #expect(result.status == 0, "aviary run failed:\n\(result.output)")
        let log = try AggregationLog.read(path: dir + "/fedrobust/aggregation.jsonl")
        #expect(log.rounds.count == 2)
        var evaluated: [[String]] = []
        for round in log.rounds {
            let eval = try #require(round.eval)
            let clients = try #require(eval.clients)
            evaluated.append(clients.keys.sorted())
            #expect(clients.count == 2)
            let robust = try #require(eval.robustAccuracy, "robust rounds report a robust accuracy")
            #expect(eval.attack != nil && (0...1).contains(robust))
            for (client, metrics) in clients {
                #expect(metrics["robust_loss"] != nil && metrics["robust_accuracy"] != nil && metrics["robust_samples"] != nil, "client \(client)")
            }
            // robust_samples is only a metric: the aggregate weighs each client by its EVAL_RESULT's samples.
            let bySamples = clients.values.map { $0["robust_accuracy"]! * $0["samples"]! }.reduce(0, +)
                / clients.values.map { $0["samples"]! }.reduce(0, +)
            #expect(abs(robust - bySamples) < 1e-12)
        }
        #expect(evaluated.count == 2)
    }
}
