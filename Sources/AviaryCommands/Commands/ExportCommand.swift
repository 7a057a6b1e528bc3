import ArgumentParser
import Foundation
import AviaryExport
import AviaryLog
import AviaryReport

/// `aviary export RUN --tensorboard DIR | --mlflow DIR`: a run's log in another tool's format.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a run's per-round metrics for TensorBoard (event file) or MLflow (file store).",
        discussion: """
        The values are the numeric columns of `aviary logs --csv`, under the same names, one point \
        per round (step = round). TensorBoard stores scalars as 32-bit floats. The MLflow run gets \
        run_start.config as params and the verdict as tags (aviary.status, aviary.verdict); open it \
        with `MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri DIR` (MLflow 3 reads file \
        stores only with that variable), TensorBoard with `tensorboard --logdir DIR`.
        """)

    @Argument(help: "Run directory (runs/<name>) or its aggregation.jsonl.")
    var runDirectory: String

    @Option(help: "Directory to write the TensorBoard event file into (created if missing).")
    var tensorboard: String?

    @Option(help: "MLflow file store to add the run to (created if missing); exporting a run again replaces its MLflow run.")
    var mlflow: String?

    @Option(help: "MLflow experiment name (created in the store if missing).")
    var experiment: String = "aviary"

    func validate() throws {
        guard tensorboard != nil || mlflow != nil else {
            throw ValidationError("Say where to write: --tensorboard DIR and/or --mlflow DIR.")
        }
    }

    func run() throws {
        let path = runDirectory.hasSuffix(".jsonl") ? runDirectory : RunDirectory(path: runDirectory).log
        do {
            let log = try AggregationLog.read(path: path)
            for w in log.warnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
            if let dir = tensorboard {
                let file = try TensorBoardEvents.export(log, runPath: runDirectory, to: dir)
                say("tensorboard: \(file) (\(plural(log.rounds.count, "round")))")
            }
            if let store = mlflow {
                let written = try MLflowRun.export(log, runPath: runDirectory, to: store, experiment: experiment)
                say("mlflow: \(written.directory) (experiment \(experiment)"
                    + (written.replaced ? "; replaced the earlier export of this run)" : ")"))
            }
        } catch {
            throw fail(error)
        }
    }
}
