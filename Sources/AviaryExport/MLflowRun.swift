import Foundation
import AviaryLog

/// `aviary export RUN --mlflow DIR`: the run as one run of an MLflow file store (the layout
/// `mlflow.tracking.MlflowClient("file:DIR")` reads): params from `run_start.config` (every key
/// of the resolved topology), one metric file per `RoundScalars` column with a value per round
/// (step = round), and tags for the verdict (`aviary.status`, `aviary.verdict`, the run's name,
/// directory and build). The run's MLflow status follows the verdict: FINISHED for a completed
/// run, FAILED for a failed or degraded one, RUNNING while the log has no run_end.
///
/// Exporting is idempotent: the MLflow run id is derived from the Aviary run (`runID(of:)`), so
/// exporting the same run again replaces that MLflow run with the log as it is now (a run still
/// going gains its new rounds) instead of adding a duplicate.
public enum MLflowRun {
    /// Where the run was written, and whether an earlier export of it was replaced.
    public struct Written: Sendable, Equatable {
        public var directory: String
        public var replaced: Bool
    }

    /// MLflow's numeric run statuses (mlflow.entities.RunStatus).
    static let running = 1, finished = 3, failed = 4

    /// The MLflow run id of an Aviary run: the 32 hex digits of `run_start.run_id` (kept
    /// across resumes), or for a log written before run ids, a hash of its name and start time.
    /// 32 lower-case hex digits either way, as MLflow's own ids.
    public static func runID(of start: RunStartRecord) -> String {
        if let id = start.runId, id.hasPrefix("run-"), id.count == 36, id.dropFirst(4).allSatisfy(\.isHexDigit) {
            return id.dropFirst(4).lowercased()
        }
        // FNV-1a, twice with different offsets: an identifier, not a secret.
        func fnv(_ offset: UInt64) -> String {
            var h = offset
            for b in (start.run + "\n" + start.time).utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            let hex = String(h, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }
        return fnv(0xcbf2_9ce4_8422_2325) + fnv(0x6c62_272e_07bb_0142)
    }

    /// Writes the run into `store` (created when missing) under the experiment named
    /// `experiment` (created when missing), replacing an earlier export of the same run there.
    /// An earlier export into another experiment of the store is refused (run ids are unique
    /// per store).
    @discardableResult
    public static func export(_ log: AggregationLog, runPath: String, to store: String, experiment: String = "aviary",
                              runID: String? = nil) throws(ExportError) -> Written {
        guard let start = log.runStart else { throw .noRunStart(path: runPath) }
        let runID = runID ?? Self.runID(of: start)
        let root = URL(fileURLWithPath: store).standardizedFileURL.path
        let experimentID = try experimentDirectory(root: root, name: experiment, created: millis(start.time))
        if let (other, path) = existingRun(runID, root: root), other != experimentID {
            throw .exportedElsewhere(runID: runID, path: path, experiment: experimentName(root: root, id: other) ?? other)
        }
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
        let fm = FileManager.default
        let replaced = fm.fileExists(atPath: runDir)
        do {
            // Replaced whole: a param or metric the new export lacks must not survive from the old.
            if replaced { try fm.removeItem(atPath: runDir) }
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
        return Written(directory: runDir, replaced: replaced)
    }

    /// The experiment id and directory of run `runID` in the store, if some experiment holds it.
    static func existingRun(_ runID: String, root: String) -> (String, String)? {
        let fm = FileManager.default
        for entry in ((try? fm.contentsOfDirectory(atPath: root)) ?? []).sorted() where Int(entry) != nil {
            let path = root + "/" + entry + "/" + runID
            if fm.fileExists(atPath: path + "/meta.yaml") { return (entry, path) }
        }
        return nil
    }

    /// The name in experiment `id`'s meta.yaml.
    static func experimentName(root: String, id: String) -> String? {
        guard let meta = FileManager.default.contents(atPath: root + "/" + id + "/meta.yaml") else { return nil }
        guard let line = String(decoding: meta, as: UTF8.self).split(separator: "\n").first(where: { $0.hasPrefix("name: ") }) else { return nil }
        var name = String(line.dropFirst(6))
        if name.hasPrefix("'") && name.hasSuffix("'") && name.count >= 2 {
            name = String(name.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'")
        }
        return name
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
