import ArgumentParser
import AviaryAdversarial
import AviaryData
import AviaryLog
import AviaryMath
import AviaryNN
import AviaryTopology
import Foundation

/// `aviary eval`: scores any safetensors checkpoint of a topology's model on the server's test
/// set, clean and under a list of attacks.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score a safetensors checkpoint: clean accuracy and loss, robust accuracy under attacks.",
        discussion: """
        The model and test set are the topology's, built as the server builds them (same test_samples,
        same validation split held apart), so a round's checkpoint scores exactly what the log says.
        Attacks: pgd:eps=0.1,steps=40,step=0.01  fgsm:eps=0.1  (norm=l2, random_start=false allowed);
        apgd-ce:eps=0.1,steps=100,restarts=1  apgd-dlr:eps=0.1  apgd-t:eps=0.1,targets=9
        autoattack-lite:eps=0.1 (APGD-CE then APGD-DLR; robust only if robust to both). APGD counts
        a sample robust only if no iterate misclassifies it.
        Default: the topology's [evaluation] attack when robust = true, else none.
        """)

    @Argument(help: "The .safetensors checkpoint.")
    var checkpoint: String

    @Option(help: "The topology whose model and test set to use.")
    var topology: String

    @Option(name: .customLong("attack"), help: "An attack to score under (repeatable), e.g. pgd:eps=0.1,steps=40,step=0.01 or apgd-ce:eps=0.1.")
    var attacks: [String] = []

    @Flag(name: .customLong("allow-weak"), help: "Allow PGD attacks whose steps × step < eps.")
    var allowWeak = false

    @Option(help: "Test samples each attack uses (a seeded subset; default the topology's [evaluation] subset, else 1000).")
    var samples: Int?

    @Option(help: "Also write the results as JSON to this file.")
    var json: String?

    /// One line of the table / one object of the JSON.
    struct Row: Codable {
        var attack: String
        var accuracy: Double
        /// nil (JSON null) when not finite; `nonFinite` then says what it was.
        var loss: Double?
        var samples: Int
        var nonFinite: String?
        /// Wall time of this row's evaluation.
        var seconds: Double

        init(attack: String, accuracy: Double, loss: Double, samples: Int, seconds: Double) {
            self.attack = attack; self.accuracy = accuracy; self.samples = samples; self.seconds = seconds
            self.loss = loss.isFinite ? loss : nil
            nonFinite = loss.isFinite ? nil : "loss is \(loss)"
        }
    }

    struct Report: Codable {
        var checkpoint: String
        var topology: String
        var model: String
        var rows: [Row]

        /// The `--json` file (snake_case keys), atomically; `aviary results` caches the same format.
        func write(to path: String) throws {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            try AtomicFile.write(try encoder.encode(self), to: path)
        }

        static func read(from path: String) -> Report? {
            guard let data = FileManager.default.contents(atPath: path) else { return nil }
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            return try? decoder.decode(Report.self, from: data)
        }
    }

    enum Failure: Error, CustomStringConvertible {
        case mismatch(file: String, detail: String)
        var description: String {
            switch self {
            case let .mismatch(file, detail): return "\(file) does not fit the topology's model: \(detail)"
            }
        }
    }

    func validate() throws {
        if let samples, samples < 1 { throw ValidationError("--samples must be ≥ 1, got \(samples).") }
        for a in attacks {
            do { _ = try EvalAttack.parse(a, allowWeak: allowWeak) } catch { throw ValidationError("\(error)") }
        }
    }

    func run() throws {
        let topo = try Topology.load(path: topology)
        let attackSpecs: [AttackSpec] = attacks.isEmpty
            ? (topo.robustEvaluation.map { [$0.attack] } ?? [])
            : try attacks.map { try EvalAttack.parse($0, allowWeak: allowWeak) }
        let (model, rows) = try Self.evaluate(checkpoint: checkpoint, topology: topo, attacks: attackSpecs, samples: samples)
        print("\(checkpoint) on \(topo.name)'s test set (\(model)):")
        print("attack".padding(toLength: 36, withPad: " ", startingAt: 0) + "accuracy      loss  samples     time")
        for r in rows {
            print(r.attack.padding(toLength: 36, withPad: " ", startingAt: 0)
                  + String(format: "%8.4f ", r.accuracy) + (r.loss.map { String(format: "%9.4f", $0) } ?? (r.nonFinite ?? "-"))
                  + String(format: " %8d %7.1fs", r.samples, r.seconds))
        }
        if let json {
            try Report(checkpoint: checkpoint, topology: topology, model: model, rows: rows).write(to: json)
        }
    }

    /// Scores `checkpoint` on `topology`'s test set, clean and under each attack: the model's
    /// name and one row per line (clean first). Shared with `aviary results`.
    static func evaluate(checkpoint: String, topology topo: Topology, attacks attackSpecs: [AttackSpec],
                         samples: Int?) throws -> (model: String, rows: [Row]) {
        let scorer = try CheckpointScorer(topology: topo)
        let rows = try scorer.score(try scorer.parameters(checkpoint: checkpoint), attacks: attackSpecs, samples: samples)
        return (scorer.spec.name, rows)
    }

    /// The first tensor, in the model's order, that is missing or shaped differently; then any extra one.
    static func mismatch(expected: ParameterLayout, found: [SafetensorsTensor]) -> String? {
        let byName = Dictionary(found.map { ($0.name, $0.shape) }, uniquingKeysWith: { a, _ in a })
        for t in expected.tensors {
            guard let shape = byName[t.name] else { return "tensor '\(t.name)' (expected shape \(t.shape)) is missing" }
            if shape != t.shape { return "tensor '\(t.name)' has shape \(shape), expected \(t.shape)" }
        }
        let names = Set(expected.tensors.map(\.name))
        if let extra = found.first(where: { !names.contains($0.name) }) {
            return "extra tensor '\(extra.name)' (shape \(extra.shape)) is not in the model"
        }
        return nil
    }
}
