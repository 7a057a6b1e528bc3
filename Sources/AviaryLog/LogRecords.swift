import AviaryMerge

/// The records of `aggregation.jsonl`, one JSON object per line. docs/LOG.md is the contract:
/// fields are added, never renamed; readers ignore fields they do not know.
public enum LogRecord: Sendable, Equatable {
    case runStart(RunStartRecord)
    case round(RoundRecord)
    case runEnd(RunEndRecord)
    case checkpointMerge(CheckpointMergeRecord)
    case resumed(ResumedRecord)
    case note(NoteRecord)
}

/// The server resumed the run from its saved state after `fromRound`; records of later rounds
/// (and a torn last line) were cut from the log first, so no round appears twice.
public struct ResumedRecord: Codable, Sendable, Equatable {
    public var event = "resumed"
    public var time: String
    /// The last completed round the state was saved after; the next round is `fromRound + 1`.
    public var fromRound: Int
    /// What `LogRepair` removed, in file order.
    public var cut: [LogCut]
    /// Why the run was resumed, e.g. "aviary-server --resume".
    public var reason: String
    public init(time: String, fromRound: Int, cut: [LogCut], reason: String) {
        self.time = time; self.fromRound = fromRound; self.cut = cut; self.reason = reason
    }
}

/// One line cut from the log on resume.
public struct LogCut: Codable, Sendable, Equatable, CustomStringConvertible {
    /// 1-based line number in the file before the cut.
    public var line: Int
    /// The record's `event`, or "torn_line" for an incomplete or unparsable last line.
    public var event: String
    public var round: Int?
    public var bytes: Int
    public init(line: Int, event: String, round: Int?, bytes: Int) {
        self.line = line; self.event = event; self.round = round; self.bytes = bytes
    }
    public var description: String {
        "line \(line): \(event)" + (round.map { " round \($0)" } ?? "") + " (\(bytes) bytes)"
    }
}

/// A merge of the last few global checkpoints (the MWA paper's own setting), evaluated and
/// logged beside the round's own model.
public struct CheckpointMergeRecord: Codable, Sendable, Equatable {
    public var event = "checkpoint_merge"
    public var round: Int
    public var time: String
    /// Rounds whose global models were merged, ascending.
    public var rounds: [Int]
    /// Weight per merged round, keyed by round.
    public var weights: [String: Double]
    public var metric: String
    public var penalty: Double
    public var eval: Evaluation
    /// The same round's unmerged global model, for comparison.
    public var lastEval: Evaluation?
    public var checkpoint: String?

    public init(round: Int, time: String, rounds: [Int], weights: [String: Double], metric: String, penalty: Double,
                eval: Evaluation, lastEval: Evaluation?, checkpoint: String?) {
        self.round = round; self.time = time; self.rounds = rounds; self.weights = weights; self.metric = metric
        self.penalty = penalty; self.eval = eval; self.lastEval = lastEval; self.checkpoint = checkpoint
    }
}

/// Written once when the server starts a run: everything needed to reproduce it.
public struct RunStartRecord: Codable, Sendable, Equatable {
    public var event = "run_start"
    public var run: String
    public var time: String
    public var aviaryVersion: String
    public var seeds: Seeds
    public var rounds: Int
    public var clients: Int
    public var clientsPerRound: Int
    public var model: String
    public var parameters: Int
    public var strategy: String
    public var dataset: String
    public var partition: String
    /// Per-client partition statistics (count, label histogram, entropy, distance to global).
    public var partitionStats: PartitionSummary?
    public var notes: [String]
    /// The run's delta encoding (`[compression]`), e.g. "int8" or "topk(0.01)"; nil in logs
    /// written before encodings existed (f32).
    public var encoding: String? = nil
    /// Whether every connection was CURVE-encrypted and authenticated (nil in older logs).
    public var curve: Bool?
    /// The whole resolved topology: every key that takes effect, by dotted path
    /// (`merge.penalty`), defaults included. Absent from logs written before it existed.
    public var config: [String: ConfigValue]? = nil
    /// Byzantine clients (`[attackers]`), for analysis; nil when nobody attacks.
    public var attackers: AttackersRecord? = nil
    /// The run's id (the same after every resume): clients keep top-k residuals under
    /// `<state-dir>/<run id>/`. Absent from logs written before it existed.
    public var runId: String? = nil  // "runId", not "runID": "run_id" both ways under the snake_case strategy
    /// The git commit of the server's build (`aviary --version`); absent from older logs.
    public var aviaryBuild: String? = nil
    /// The server process's BLAS: library, version and kernel set; absent from older logs.
    public var blas: BLASRecord? = nil

    public struct Seeds: Codable, Sendable, Equatable {
        public var partition: UInt64
        public var sampling: UInt64
        public var training: UInt64
        /// `[seeds] system`, recorded when the topology has a `[system]` section.
        public var system: UInt64? = nil
        public init(partition: UInt64, sampling: UInt64, training: UInt64, system: UInt64? = nil) {
            self.partition = partition; self.sampling = sampling; self.training = training; self.system = system
        }
    }

    public init(run: String, time: String, aviaryVersion: String, seeds: Seeds, rounds: Int, clients: Int,
                clientsPerRound: Int, model: String, parameters: Int, strategy: String, dataset: String,
                partition: String, partitionStats: PartitionSummary?, notes: [String]) {
        self.run = run; self.time = time; self.aviaryVersion = aviaryVersion; self.seeds = seeds
        self.rounds = rounds; self.clients = clients; self.clientsPerRound = clientsPerRound
        self.model = model; self.parameters = parameters; self.strategy = strategy; self.dataset = dataset
        self.partition = partition; self.partitionStats = partitionStats; self.notes = notes
    }
}

/// Partition statistics as logged (kept independent of AviaryData's types so the log schema
/// does not move when the data module does).
public struct PartitionSummary: Codable, Sendable, Equatable {
    public var counts: [Int]
    public var labelHistograms: [[Int]]
    public var meanTotalVariation: Double
    public init(counts: [Int], labelHistograms: [[Int]], meanTotalVariation: Double) {
        self.counts = counts; self.labelHistograms = labelHistograms; self.meanTotalVariation = meanTotalVariation
    }
}

/// One per completed round.
public struct RoundRecord: Codable, Sendable, Equatable {
    public var event = "round"
    public var round: Int
    public var time: String
    public var durationSeconds: Double
    /// Clients sampled for this round, ascending.
    public var sampled: [Int]
    /// Clients whose update was merged, ascending: the merge order.
    public var accepted: [Int]
    public var rejected: [ClientReason]
    public var failed: [ClientReason]
    public var timedOut: [Int]
    /// Merge weight per accepted client, keyed by client index (as a string, JSON's only key type).
    public var weights: [String: Double]
    /// What each answering client reported (samples, local_steps, train_loss, adv_loss, …).
    public var clientMetrics: [String: [String: Double]]
    /// ‖merged delta‖₂ before the server optimiser.
    public var updateNorm: Double
    /// Global-model evaluation after this round; nil when the round was not an eval round.
    public var eval: Evaluation?
    /// Checkpoint path relative to the run directory, if one was written.
    public var checkpoint: String?
    /// The checkpoint file's size and CRC-32 (8 hex digits) as written; resume checks the last
    /// one against them. nil without a checkpoint, and in logs written before they existed.
    public var checkpointBytes: Int? = nil
    public var checkpointCrc32: String? = nil
    /// True when no update was accepted and the global model was kept as it was.
    public var modelKept: Bool
    /// Spread of the received global model's accuracy over the answering clients' own test
    /// splits (`global_val_accuracy`); nil when no client has a local test split.
    public var fairness: Fairness?
    /// Sampled clients whose process was lost (missed heartbeats, or its connection dropped)
    /// before they answered; the round closed without waiting for them.
    public var lost: [Int]? = nil
    /// Protocol bytes the server sent and received during the round (all frames, heartbeats too).
    public var bytesSent: Int? = nil
    public var bytesReceived: Int? = nil
    /// Seconds the clients waited for the server after this round: from its close to the next
    /// round's tasks leaving (merge, evaluation, next sampling). The log line, checkpoint and
    /// run state are written while the next round trains, so they are not in it.
    public var serverSeconds: Double? = nil
    /// Seconds the server spent writing the PREVIOUS round (`round` − 1) to disk: its checkpoint,
    /// its log lines and the run state (those are written after this round's tasks went out, so
    /// their time is only known when the next line is written; the last round's is in
    /// `run_end.persist_seconds`). Absent on the first round of a process and in older logs.
    public var persistSeconds: Double? = nil
    /// Accepted clients merged by a fallback rule rather than the strategy's own (MWA's
    /// `missing_metric = "uniform"`), with why.
    public var fallbacks: [ClientReason]? = nil
    /// The server process's resident memory after the round, in bytes (Linux; nil elsewhere).
    /// Spelt `Rss`, not `RSS`: the log is read with snake_case key conversion, which turns
    /// `server_rss_bytes` into `serverRssBytes`, so `serverRSSBytes` never read back.
    public var serverRssBytes: Int? = nil
    /// Per sampled client (keyed by index): its UPDATE bytes up and MODEL + TRAIN bytes down.
    public var clientTraffic: [String: ClientTraffic]? = nil
    /// Sum of the clients' `bytes_up`: the round's UPDATE and FAILURE frames.
    public var bytesUp: Int? = nil
    /// MODEL and TRAIN frames actually sent this round (one of each per process with sampled clients).
    public var bytesDown: Int? = nil
    /// The simulated clock's view of the round (`[system]` topologies): duration, clock, offline, stragglers.
    public var system: SystemRoundRecord? = nil
    /// Accepted clients whose delta `[merge] clip_norm` scaled down, keyed by index: the ℓ2 norm
    /// before clipping. nil when none was clipped.
    public var clipped: [String: Double]? = nil
    /// Why the global model was kept (`model_kept`), e.g. "the server step would make global[3]
    /// inf; step not applied, global model kept". nil when the round moved the model, and in
    /// logs written before it existed.
    public var keptReason: String? = nil
    /// `[privacy]`: ε so far, clip norm, noise; nil without differential privacy.
    public var privacy: PrivacyRoundRecord? = nil
    /// `[secagg]`: the round's secure aggregation; nil in a plain run.
    public var secagg: SecAggRoundRecord? = nil

    public init(round: Int, time: String, durationSeconds: Double, sampled: [Int], accepted: [Int],
                rejected: [ClientReason], failed: [ClientReason], timedOut: [Int], weights: [String: Double],
                clientMetrics: [String: [String: Double]], updateNorm: Double, eval: Evaluation?,
                checkpoint: String?, modelKept: Bool) {
        self.round = round; self.time = time; self.durationSeconds = durationSeconds; self.sampled = sampled
        self.accepted = accepted; self.rejected = rejected; self.failed = failed; self.timedOut = timedOut
        self.weights = weights; self.clientMetrics = clientMetrics; self.updateNorm = updateNorm
        self.eval = eval; self.checkpoint = checkpoint; self.modelKept = modelKept
        fairness = Fairness(clientMetrics.values.compactMap { $0["global_val_accuracy"] })
    }
}

extension RoundRecord {
    /// A per-client map keyed as the log keys it (the index as a string: JSON's only key type).
    /// The one place client indices become strings; everything before the record uses `Int`.
    /// Inlinable, so callers get it specialised: generic, it looked up type metadata for every
    /// call (0.03–0.07 ms per round of the server's loop in perf, three calls a round).
    @inlinable
    public static func byClient<V>(_ values: [Int: V]) -> [String: V] {
        Dictionary(uniqueKeysWithValues: values.map { (String($0.key), $0.value) })
    }
}

/// How evenly the global model serves the clients: summary statistics of per-client accuracy.
public struct Fairness: Codable, Sendable, Equatable {
    public var clients: Int
    public var mean: Double
    public var std: Double
    public var min: Double
    /// Mean accuracy of the worst 10% of clients (at least one), as FedLab and q-FFL report.
    public var worst10Mean: Double

    /// nil for an empty list.
    public init?(_ accuracies: [Double]) {
        guard !accuracies.isEmpty else { return nil }
        let sorted = accuracies.sorted()
        let n = Double(sorted.count)
        clients = sorted.count
        let m = sorted.reduce(0, +) / n
        mean = m
        std = (sorted.reduce(0) { $0 + ($1 - m) * ($1 - m) } / n).squareRoot()
        min = sorted[0]
        let k = Swift.max(1, sorted.count / 10)
        worst10Mean = sorted.prefix(k).reduce(0, +) / Double(k)
    }
}

/// A client and why (a rejected, failed or fallback-merged update), as the log carries it.
public struct ClientReason: Codable, Sendable, Equatable {
    public var client: Int
    public var reason: String
    /// The reason's stable category (`RejectionReason.category`), for grouping; nil for
    /// failures (the client's own words) and in logs written before it existed.
    public var category: String? = nil
    public init(client: Int, reason: String) { self.client = client; self.reason = reason }
    public init(_ rejection: Rejection) {
        client = rejection.clientIndex
        reason = "\(rejection.reason)"
        category = rejection.reason.category
    }
}

/// Global-model metrics on the server's held-out split.
public struct Evaluation: Codable, Sendable, Equatable {
    public var cleanAccuracy: Double
    public var cleanLoss: Double
    public var samples: Int
    /// PGD accuracy on a fixed seeded subset; nil when robust evaluation is off or not this round.
    public var robustAccuracy: Double?
    public var robustSamples: Int?
    public var attack: String?
    /// Loss on the server's validation split (`[evaluation].validation_fraction` > 0).
    public var validationLoss: Double?
    public var validationSamples: Int?
    /// Who evaluated (`[evaluation] mode`): `federated` (the sample-weighted aggregate of the
    /// clients' results) or `evaluator` (the evaluator process); nil: the server itself.
    public var mode: String? = nil
    /// Federated evaluation: each valid result by client, {`samples`, `loss`, `accuracy`, and
    /// any other metric the client sent (`robust_loss`, `robust_accuracy`, …)}; nil otherwise.
    public var clients: [String: [String: Double]]? = nil
    /// Results refused (an error, no samples, a non-finite or missing metric), with why; nil when none.
    public var refused: [ClientReason]? = nil
    /// Asked and not answered (the deadline passed or the process was lost); nil when none.
    public var missing: [Int]? = nil
    public init(cleanAccuracy: Double, cleanLoss: Double, samples: Int, robustAccuracy: Double? = nil,
                robustSamples: Int? = nil, attack: String? = nil, validationLoss: Double? = nil, validationSamples: Int? = nil) {
        self.cleanAccuracy = cleanAccuracy; self.cleanLoss = cleanLoss; self.samples = samples
        self.robustAccuracy = robustAccuracy; self.robustSamples = robustSamples; self.attack = attack
        self.validationLoss = validationLoss; self.validationSamples = validationSamples
    }
}

public struct RunEndRecord: Codable, Sendable, Equatable {
    public var event = "run_end"
    public var time: String
    public var roundsCompleted: Int
    public var durationSeconds: Double
    public var status: String
    public var finalEval: Evaluation?
    /// Seconds spent writing the last round (checkpoint, log lines, run state): the
    /// `persist_seconds` no later round record carries. Absent in older logs.
    public var persistSeconds: Double? = nil
    /// Clients whose process was lost during the run and that had not registered again at its
    /// end; nil when none (and in logs written before it existed).
    public var lostClients: [Int]? = nil
    /// Clients lost during the run that registered again later; nil when none.
    public var returnedClients: [Int]? = nil
    /// Why a completed run ended before `[run] rounds` (`[privacy] on_budget = "stop"`); nil otherwise.
    public var stopReason: String? = nil
    /// `[privacy]`: ε at the run's end (local DP: per client); nil without differential privacy.
    public var privacy: PrivacyRunEndRecord? = nil
    public init(time: String, roundsCompleted: Int, durationSeconds: Double, status: String, finalEval: Evaluation?) {
        self.time = time; self.roundsCompleted = roundsCompleted; self.durationSeconds = durationSeconds
        self.status = status; self.finalEval = finalEval
    }
}

/// Free-form tagged events: client joined/left, checkpoint merges, warnings.
public struct NoteRecord: Codable, Sendable, Equatable {
    public var event: String
    public var time: String
    public var round: Int?
    public var client: Int?
    public var message: String
    public var values: [String: Double]?
    public init(event: String, time: String, round: Int? = nil, client: Int? = nil, message: String,
                values: [String: Double]? = nil) {
        self.event = event; self.time = time; self.round = round; self.client = client
        self.message = message; self.values = values
    }
}
