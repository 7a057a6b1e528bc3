import ArgumentParser
import AviaryLog
import AviaryMerge
import Foundation

/// `aviary merge`: metrics-weighted averaging of whole safetensors checkpoints, offline.
public struct MergeCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge safetensors checkpoints by metrics-weighted averaging (MWA).",
        discussion: """
        Weights are w_i = m_i^(-p) / Σ m_j^(-p) for --metric loss (lower is better) and
        w_i = m_i^p / Σ m_j^p for --metric steps (higher is better); p = 0 is the plain average.
        All inputs must hold the same tensor names and shapes. Example:
          aviary merge --metric loss --penalty 2 --values 0.41,0.38,0.52 r10.safetensors r20.safetensors r30.safetensors -o merged.safetensors
        From a run, with its round checkpoints and the metric values its log recorded:
          aviary merge --run runs/X --rounds 41-50 --metric val_loss --penalty 1 -o merged.safetensors
        (--metric val_loss: the server's validation loss, as [merge.checkpoints] uses; clean_loss: the
        reported test loss; train_loss, adv_loss: the round's accepted clients' mean reported loss;
        steps: local steps of all accepted clients through the round, and round: the round number,
        both higher weighs more.)
        """)

    /// Whether lower (loss) or higher (steps) metric values get more weight; with --run, which
    /// logged value to weigh by (`steps` then means the run's cumulative local steps).
    public enum MetricChoice: String, ExpressibleByArgument, CaseIterable, Sendable {
        case loss, steps
        case valLoss = "val_loss", cleanLoss = "clean_loss", round
        case trainLoss = "train_loss", advLoss = "adv_loss"
    }

    @Option(help: "Metric type: loss (lower is better) or steps (higher is better); with --run: val_loss, clean_loss, train_loss, adv_loss, steps or round.")
    public var metric: MetricChoice?

    @Option(name: .customLong("run"), help: ArgumentHelp("Take the checkpoints and metric values from this run directory (with --rounds).", valueName: "run-directory"))
    public var runDirectory: String?

    @Option(help: ArgumentHelp("With --run: the rounds to merge, e.g. 41-50 or 10,20,30.", valueName: "list"))
    public var rounds: String?

    @Option(help: "MWA penalty p in 0…10 (0 = uniform average).")
    public var penalty: Double = 1

    @Option(help: "Comma-separated metric values, one per input, in input order.")
    public var values: String?

    @Option(name: .customLong("metrics-json"), help: "JSON file mapping input file name (or path) to its metric value.")
    public var metricsJSON: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: "Where to write the merged checkpoint.")
    public var output: String

    @Argument(help: "Input .safetensors checkpoints (at least one).")
    public var inputs: [String] = []

    public init() {}

    public func validate() throws {
        do { try MetricsWeightedAverage.validatePenalty(penalty) } catch { throw ValidationError("\(error)") }
        if runDirectory != nil {
            guard inputs.isEmpty, values == nil, metricsJSON == nil else {
                throw ValidationError("--run takes the checkpoints and metric values from the run; give no input files, --values or --metrics-json with it.")
            }
            guard rounds != nil else { throw ValidationError("--run needs --rounds, e.g. --rounds 41-50.") }
            guard let metric, RunCheckpoints.Metric(rawValue: metric.rawValue) != nil else {
                throw ValidationError("--run needs --metric val_loss, clean_loss, train_loss, adv_loss, steps or round.")
            }
            return
        }
        if rounds != nil { throw ValidationError("--rounds needs --run runs/<name>.") }
        if let metric, metric != .loss && metric != .steps {
            throw ValidationError("--metric \(metric.rawValue) needs --run; for input files use --metric loss or steps.")
        }
        guard !inputs.isEmpty else { throw ValidationError("Please give at least one input .safetensors file.") }
        guard (values == nil) != (metricsJSON == nil) else {
            throw ValidationError("Give the metric values either with --values 0.5,0.7,… or with --metrics-json FILE (exactly one).")
        }
        guard !inputs.contains(output) else {
            throw ValidationError("The output \(output) is also an input; choose another -o path.")
        }
    }

    public func run() throws {
        if runDirectory != nil {
            do { try mergeRun() } catch { throw fail(error) }
            return
        }
        try merge(inputs: inputs, metrics: try metricValues(), kind: metric == .steps ? .progress : .loss,
                  metricName: (metric ?? .loss).rawValue, extra: [:])
    }

    /// --run: the chosen rounds' checkpoints, weighted by the metric the log recorded for each.
    private func mergeRun() throws {
        let directory = runDirectory!
        let which = RunCheckpoints.Metric(rawValue: metric!.rawValue)!
        let log = try AggregationLog.read(path: RunDirectory(path: directory).log)
        let list: [Int]
        do { list = try ClientSet.parse(rounds!) } catch {
            throw ValidationError("--rounds \(rounds!): give rounds as a list or ranges, e.g. 41-50 or 10,20,30")
        }
        let selected = try RunCheckpoints.select(log: log, runDirectory: directory, rounds: list, metric: which)
        guard !inputs.contains(output), !selected.contains(where: { $0.path == output }) else {
            throw ValidationError("The output \(output) is also an input; choose another -o path.")
        }
        try merge(inputs: selected.map(\.path), metrics: selected.map(\.metric), kind: which.kind, metricName: which.rawValue,
                  extra: ["aviary.merge.run": directory, "aviary.merge.rounds": Self.jsonArray(selected.map { String($0.round) })])
    }

    private func merge(inputs: [String], metrics: [Double], kind: MetricKind, metricName: String, extra: [String: String]) throws {
        let files = try inputs.map { path in
            let file = try Safetensors.read(path: path)
            try RunDirectory.checkCheckpointFormat(file.metadata, path: path)
            return file
        }
        let layout = files[0].tensors
        for (path, file) in zip(inputs, files).dropFirst() {
            let mismatch = layoutMismatch(reference: layout, other: file.tensors)
            if let mismatch {
                throw Failure.layoutMismatch(file: path, reference: inputs[0], detail: mismatch)
            }
        }
        let order = layout.map(\.name)
        let checkpoints = try zip(files, metrics).map { (parameters: try $0.flatValues(order: order), metric: $1) }
        let merged: (parameters: [Float], weights: [Double])
        do {
            merged = try mergeCheckpoints(checkpoints, kind: kind, penalty: penalty)
        } catch MergeError.invalidCheckpoint(let position, let reason) {
            throw Failure.badMetric(file: inputs[position], reason: reason)
        }
        let metadata = extra.merging([
            "aviary.merge.strategy": "mwa",
            "aviary.merge.metric": metricName,
            "aviary.merge.penalty": "\(penalty)",
            "aviary.merge.inputs": Self.jsonArray(inputs.map { "\"\($0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\"" }),
            "aviary.merge.metric_values": Self.jsonArray(metrics.map { "\($0)" }),
            "aviary.merge.weights": Self.jsonArray(merged.weights.map { "\($0)" }),
        ]) { a, _ in a }
        try Safetensors.write(tensors: layout.map { (name: $0.name, shape: $0.shape) }, values: merged.parameters,
                              metadata: metadata, to: output)
        for (path, (m, w)) in zip(inputs, zip(metrics, merged.weights)) {
            print("\(path)\tmetric \(m)\tweight \(String(format: "%.6f", w))")
        }
        print("wrote \(output) (\(merged.parameters.count) parameters, p = \(penalty), metric \(metricName))")
    }

    /// One metric value per input, from --values or --metrics-json.
    private func metricValues() throws -> [Double] {
        if let values {
            let parsed = values.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard parsed.count == inputs.count, parsed.allSatisfy({ $0 != nil }) else {
                throw ValidationError("--values must list \(inputs.count) numbers separated by commas (one per input), got '\(values)'.")
            }
            return parsed.map { $0! }
        }
        let path = metricsJSON!
        guard let data = FileManager.default.contents(atPath: path),
              let map = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw Failure.metricsFile(path: path, reason: "it is missing or not a JSON object mapping file name to metric value")
        }
        return try inputs.map { input in
            let name = URL(fileURLWithPath: input).lastPathComponent
            guard let number = (map[input] ?? map[name]) as? NSNumber else {
                throw Failure.metricsFile(path: path, reason: "no numeric metric for \(input) (looked up as '\(input)' and '\(name)')")
            }
            return number.doubleValue
        }
    }

    /// What differs between two tensor lists, or nil when names, shapes and order agree.
    private func layoutMismatch(reference: [SafetensorsTensor], other: [SafetensorsTensor]) -> String? {
        let a = Dictionary(uniqueKeysWithValues: reference.map { ($0.name, $0.shape) })
        let b = Dictionary(uniqueKeysWithValues: other.map { ($0.name, $0.shape) })
        if let missing = a.keys.sorted().first(where: { b[$0] == nil }) { return "tensor '\(missing)' is missing" }
        if let extra = b.keys.sorted().first(where: { a[$0] == nil }) { return "it has an extra tensor '\(extra)'" }
        if let name = a.keys.sorted().first(where: { a[$0] != b[$0] }) {
            return "tensor '\(name)' has shape \(b[name]!) instead of \(a[name]!)"
        }
        return nil
    }

    /// Run-time failures (bad files), reported without the usage text.
    public enum Failure: Error, CustomStringConvertible {
        case layoutMismatch(file: String, reference: String, detail: String)
        case badMetric(file: String, reason: String)
        case metricsFile(path: String, reason: String)

        public var description: String {
            switch self {
            case .layoutMismatch(let file, let reference, let detail):
                return "\(file) does not match \(reference): \(detail); all inputs must be checkpoints of the same model"
            case .badMetric(let file, let reason):
                return "\(file): \(reason); MWA needs a finite metric > 0 for every input"
            case .metricsFile(let path, let reason):
                return "cannot use --metrics-json \(path): \(reason)"
            }
        }
    }

    private static func jsonArray(_ items: [String]) -> String { "[" + items.joined(separator: ",") + "]" }
}
