import ArgumentParser
import AviaryAdversarial
import AviaryLog
import AviaryReport
import AviaryTopology
import Foundation

/// `aviary results STUDIES.toml -o docs/RESULTS.md`: the results document from the runs' logs.
struct ResultsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "results",
        abstract: "Write a results document (Markdown) from the logs of finished runs, grouped by seed.",
        discussion: """
        Each [[study]] of the plan names directories of runs (sweeps). Within a directory, runs whose \
        topologies differ only in [seeds] form one row (mean ± std across them), labelled by the settings \
        that differ between rows. Stronger attacks listed under `attacks` score each run's final checkpoint \
        once; the result is kept in RUN/evals/ and reused. `make experiments` runs the sweeps of \
        topologies/experiments/plan.toml and then this.
        """)

    @Argument(help: "The study plan (TOML), e.g. topologies/experiments/plan.toml.")
    var plan: String

    @Option(name: .shortAndLong, help: "Where to write the Markdown.")
    var output: String

    @Option(help: "Wall time of the whole suite in seconds, stated in the header.")
    var suiteSeconds: Double?

    @Option(help: "The command quoted in the header as the way to regenerate the file (default: this invocation).")
    var command: String?

    func run() throws {
        guard let data = FileManager.default.contents(atPath: plan) else {
            throw ValidationError("cannot read the study plan \(plan)")
        }
        let studyPlan = try StudyPlan(text: String(decoding: data, as: UTF8.self), file: plan)
        for study in studyPlan.studies {
            for a in study.attacks {
                do { _ = try EvalAttack.parse(a, allowWeak: false) } catch { throw ValidationError("\(plan): \(study.title): \(error)") }
            }
        }
        var studies: [ResultsDocument.Study] = []
        for study in studyPlan.studies {
            studies.append(try Self.study(study, lastK: studyPlan.lastK))
        }
        let date = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate])
        let doc = ResultsDocument(studies: studies, lastK: studyPlan.lastK, command: command ?? "aviary results \(plan) -o \(output)",
                                  build: BuildInfo.commit,
                                  date: date, suiteSeconds: suiteSeconds)
        try AtomicFile.write(Data(doc.markdown().utf8), to: output)
        print("results: \(output) (\(studies.count) studies, \(studies.map(\.groups.count).reduce(0, +)) rows)")
        // The table shows completed/total per row; say it here too, so an unfinished sweep is not missed.
        let incomplete = studies.flatMap { st in st.groups.filter { $0.summary.incomplete > 0 }.map { "\(st.title.prefix(40))…: \($0.label)" } }
        for row in incomplete { FileHandle.standardError.write(Data("warning: runs that did not complete are in \(row)\n".utf8)) }
        for st in studies { if let mixed = ResultsDocument.mixedKernels(st.blasCores) {
            FileHandle.standardError.write(Data("warning: \(st.title.prefix(40))…: \(mixed)\n".utf8))
        } }
    }

    static func study(_ s: StudyPlan.Study, lastK: Int) throws -> ResultsDocument.Study {
        var groups: [ResultsDocument.Group] = []
        var sharedSettings: [String: String]? = nil
        var robustAttack: String? = nil
        var builds: [String: Int] = [:]
        var cores: [String: Int] = [:]
        var mergeGroups: [(label: String, runs: [String])] = []
        for source in s.runs {
            let dirs = CompareCommand.expandingSweeps(source).filter { FileManager.default.fileExists(atPath: RunDirectory(path: $0).log) }
            guard !dirs.isEmpty else { throw ValidationError("\(s.title): no runs under \(source) (run `make experiments` first)") }
            let grouping = try SeedGrouping.groups(runDirectories: dirs)
                ?? dirs.enumerated().map { RunComparison.SeedGroup(label: ($1 as NSString).lastPathComponent, members: [$0]) }
            for dir in dirs {
                let text = (try? String(contentsOfFile: RunDirectory(path: dir).topology, encoding: .utf8)) ?? ""
                let settings = (try? TopologySettings(text: text, file: dir).experiment) ?? [:]
                sharedSettings = sharedSettings.map { shared in shared.filter { settings[$0.key] == $0.value } } ?? settings
            }
            for g in grouping {
                var outcomes: [RunOutcome] = []
                var skews: [WeightSkew] = []
                for m in g.members {
                    let dir = dirs[m]
                    let log = try AggregationLog.read(path: RunDirectory(path: dir).log)
                    builds[log.runStart?.aviaryBuild ?? "", default: 0] += 1
                    cores[log.runStart?.blas?.core ?? "", default: 0] += 1
                    var outcome = RunOutcome(log: log, lastK: lastK)
                    robustAttack = robustAttack ?? log.rounds.compactMap { $0.eval?.attack }.last
                    if !s.attacks.isEmpty && s.checkpointMerge == nil { outcome.extraRobust = try extraEvaluations(run: dir, log: log, attacks: s.attacks) }
                    outcomes.append(outcome)
                    if s.skew, let k = WeightSkew(log: log) { skews.append(k) }
                }
                // One row per source when a source holds one setting: its directory names it.
                let label = grouping.count == 1 ? (source as NSString).lastPathComponent : g.label
                var group = ResultsDocument.Group(label: label, summary: SeedGroupSummary(label: label, outcomes: outcomes),
                                                  skew: WeightSkew.mean(skews), settings: g.settings)
                group.source = (source as NSString).lastPathComponent
                groups.append(group)
                mergeGroups.append((label, g.members.map { dirs[$0] }))
            }
        }
        let fixed = (sharedSettings ?? [:]).sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }
        var study = ResultsDocument.Study(title: s.title, sources: s.runs, fixed: fixed, groups: groups,
                                          baseline: s.baseline, robustAttack: robustAttack, pivot: s.pivot)
        study.builds = builds
        study.blasCores = cores
        study.note = s.note
        study.timeToTarget = s.timeToTarget
        if let grid = s.checkpointMerge {
            // The merges are scored under the study's first attack (the rest are not used here).
            study.checkpointMerge = try CheckpointMergeRunner.study(groups: mergeGroups, grid: grid, attack: s.attacks.first)
        }
        return study
    }

    /// Robust accuracy of the run's last checkpoint under each attack, computed once and kept in
    /// RUN/evals/<attack>.json (the `aviary eval --json` format).
    static func extraEvaluations(run dir: String, log: AggregationLog, attacks: [String]) throws -> [String: Double] {
        guard let last = log.rounds.last(where: { $0.checkpoint != nil })?.checkpoint else {
            // The column would be missing without a word: say which run has nothing to attack.
            FileHandle.standardError.write(Data("warning: \(dir) saved no checkpoint ([server] checkpoint_every = 0): the plan's attacks \(attacks.joined(separator: ", ")) cannot score it\n".utf8))
            return [:]
        }
        let checkpoint = dir + "/" + last
        let evals = dir + "/evals"
        try FileManager.default.createDirectory(atPath: evals, withIntermediateDirectories: true)
        var out: [String: Double] = [:]
        for attack in attacks {
            let spec = try EvalAttack.parse(attack, allowWeak: false)
            let file = evals + "/" + attack.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" }.reduce("") { $0 + String($1) } + ".json"
            if let cached = EvalCommand.Report.read(from: file), cached.checkpoint == checkpoint, let row = cached.rows.last {
                out[attack] = row.accuracy
                continue
            }
            let topology = try Topology.load(path: RunDirectory(path: dir).topology)
            let (model, rows) = try EvalCommand.evaluate(checkpoint: checkpoint, topology: topology, attacks: [spec], samples: nil)
            try EvalCommand.Report(checkpoint: checkpoint, topology: RunDirectory(path: dir).topology, model: model, rows: rows)
                .write(to: file)
            out[attack] = rows.last?.accuracy
        }
        return out
    }
}
