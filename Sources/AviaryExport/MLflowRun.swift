import Foundation
import AviaryLog

/// `aviary export RUN --mlflow DIR`: the run as one run of an MLflow file store (the layout
/// `mlflow.tracking.MlflowClient("file:DIR")` reads): params from `run_start.config` (every key
/// of the resolved topology), one metric file per `RoundScalars` column with a value per round
/// (step = round), and tags for the verdict (`aviary.status`, `aviary.verdict`, the run's name,
/// directory and build). The run's MLflow status follows the verdict: FINISHED for a completed
/// run, FAILED for a failed or degraded one, RUNNING while the log has no run_end.
public enum MLflowRun {
    /// MLflow's numeric run statuses (mlflow.entities.RunStatus).
    static let running = 1, finished = 3, failed = 4

    /// Writes the run into `store` (created when missing) under the experiment named
    /// `experiment` (created when missing); returns the run's directory.
    @discardableResult
    public static func export(_ log: AggregationLog, runPath: String, to store: String, experiment: String = "aviary",
                              runID: String = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()) throws(ExportError) -> String {
        guard let start = log.runStart else { throw .noRunStart(path: runPath) }
        let root = URL(fileURLWithPath: store).standardizedFileURL.path
        let experimentID = try experimentDirectory(root: root, name: experiment, created: millis(start.time))
        let runDir = root + "/" + experimentID + "/" + runID
        let startMillis = millis(start.time)
        let endMillis = log.runEnd.flatMap { millis($0.time) }
        let status = log.runEnd.map { $0.status == "completed" ? finished : failed } ?? running
        var files: [(String, String)] = [("meta.yaml", yaml([
            ("artifact_uri", quoted(URL(fileURLWithPath: runDir + "/artifacts").absoluteString)),
            ("end_time", endMillis.map(String.init) ?? "null"), ("entry_point_name", "''"),
            ("experiment_id", quoted(experimentID)), ("lifecycle_stage", "active"),
            ("run_id", runID), ("run_name", quoted(start.run)), ("run_uuid", runID),
            ("source_name", "''"), ("source_type", "4"), ("source_version", "''"),
            ("start_time", startMillis.map(String.init) ?? "null"), ("status", String(status)), ("tags", "[]"),
            ("user_id", "aviary"),
        ]))]
        for (key, value) in (start.config ?? [:]).sorted(by: { $0.key < $1.key }) {
            files.append(("params/" + name(key), value.description))
        }
        var metrics: [String: String] = [:]
        for r in RoundScalars.of(log) {
            let stamp = Int64((r.wallTime * 1000).rounded())
            for (metric, value) in r.values { metrics[metric, default: ""] += "\(stamp) \(number(value)) \(r.round)\n" }
        }
        for (metric, lines) in metrics.sorted(by: { $0.key < $1.key }) { files.append(("metrics/" + metric, lines)) }
        var tags: [(String, String)] = [("mlflow.runName", start.run), ("aviary.run_dir", runPath),
                                        ("aviary.status", log.runEnd == nil ? "running" : statusWord(log.runEnd!.status)),
                                        ("aviary.verdict", log.runEnd?.status ?? "no run_end yet (running, or the server stopped)"),
                                        ("aviary.version", start.aviaryVersion)]
        if let build = start.aviaryBuild { tags.append(("aviary.build", build)) }
        if let id = start.runId { tags.append(("aviary.run_id", id)) }
        files += tags.map { ("tags/" + $0.0, $0.1) }
        do {
            let fm = FileManager.default
            for dir in ["", "/params", "/metrics", "/tags", "/artifacts"] {
                try fm.createDirectory(atPath: runDir + dir, withIntermediateDirectories: true)
            }
            for (path, text) in files {
                guard fm.createFile(atPath: runDir + "/" + path, contents: Data(text.utf8)) else {
                    throw ExportError.cannotWrite(path: runDir + "/" + path, reason: "could not create the file")
                }
            }
        } catch let error as ExportError {
            throw error
        } catch {
            throw .cannotWrite(path: runDir, reason: ErrorReason.of(error))
        }
        return runDir
    }

    /// `completed`, `failed` or `degraded`: the first word of run_end.status.
    static func statusWord(_ status: String) -> String {
        String(status.prefix { $0 != ":" })
    }

    /// The id of the experiment named `name` in the store, creating it (next free number) when absent.
    static func experimentDirectory(root: String, name: String, created: Int64?) throws(ExportError) -> String {
        let fm = FileManager.default
        let entries = (try? fm.contentsOfDirectory(atPath: root)) ?? []
        var highest = 0
        for entry in entries {
            guard let id = Int(entry), let meta = fm.contents(atPath: root + "/" + entry + "/meta.yaml") else { continue }
            highest = max(highest, id)
            let text = String(decoding: meta, as: UTF8.self)
            if text.split(separator: "\n").contains(where: { $0 == "name: " + quoted(name) || $0 == "name: " + name }) { return entry }
        }
        let id = String(highest + 1)
        let now = created ?? Int64(Date().timeIntervalSince1970 * 1000)
        let meta = yaml([("artifact_location", quoted(URL(fileURLWithPath: root + "/" + id).absoluteString)),
                         ("creation_time", String(now)), ("experiment_id", quoted(id)), ("last_update_time", String(now)),
                         ("lifecycle_stage", "active"), ("name", quoted(name))])
        do {
            try fm.createDirectory(atPath: root + "/" + id, withIntermediateDirectories: true)
        } catch {
            throw .cannotWrite(path: root + "/" + id, reason: ErrorReason.of(error))
        }
        guard fm.createFile(atPath: root + "/" + id + "/meta.yaml", contents: Data(meta.utf8)) else {
            throw .cannotWrite(path: root + "/" + id + "/meta.yaml", reason: "could not create the file")
        }
        return id
    }

    /// MLflow keys allow letters, digits, `_ - . /` and spaces; `/` would make a directory in
    /// the file store, and config paths of per-client overrides hold `[0]`: both become `_`.
    static func name(_ key: String) -> String {
        String(key.map { $0.isLetter || $0.isNumber || "_-. ".contains($0) ? $0 : "_" })
    }

    static func millis(_ time: String) -> Int64? { RoundScalars.timestamp(time).map { Int64(($0 * 1000).rounded()) } }

    /// Python's float repr reads back any Double exactly; Swift's description is shortest-exact too.
    static func number(_ v: Double) -> String {
        v.isNaN ? "nan" : v.isInfinite ? (v > 0 ? "inf" : "-inf") : "\(v)"
    }

    /// A YAML string in single quotes (the only escape is a doubled quote).
    static func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }

    static func yaml(_ pairs: [(String, String)]) -> String { pairs.map { "\($0.0): \($0.1)\n" }.joined() }
}
