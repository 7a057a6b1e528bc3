import Foundation
import AviaryLog
import AviaryMath
import AviaryMerge
import AviaryPrivacy

extension FederatedServer {
    struct ResumePoint {
        var round: Int
        var unresponsive: Set<Int>
        var registered: Int
    }

    /// Opens the existing run directory and restores the state of its last completed round:
    /// leftover temp files go, the log is cut back to that round (a torn last line or records
    /// of an unfinished round are reported in a `resumed` record, never merged into the
    /// history), and the model, optimiser and checkpoint-merge window come back bit for bit.
    /// A run killed before its first round completed has no state yet and starts over at round 1
    /// with the same log.
    func resumeFromState() throws -> ResumePoint {
        guard FileManager.default.fileExists(atPath: directory.log) else {
            throw RunFileError.cannotOpen(path: directory.log, reason: "nothing to resume: no run was started in \(directory.path)")
        }
        try refusePlaintextResumeOfCurveRun()
        let removed = try TemporaryFiles.removeLeftovers(in: directory)
        let store = runStateStore
        var point = ResumePoint(round: 0, unresponsive: [], registered: 0)
        var position: LogPosition? = nil
        if store.exists {
            let saved = try store.load(topology: Array(topology.source.utf8))
            guard saved.global.count == state.global.count else {
                throw RunStateError.inconsistent(path: directory.state, field: "global",
                                             reason: "has \(saved.global.count) values, the topology's model has \(state.global.count)")
            }
            state = ServerModelState(global: saved.global, optimizer: saved.optimizer,
                                     window: saved.mergeWindow.map { CheckpointWindowEntry(round: $0.round, parameters: $0.parameters, loss: $0.loss) },
                                     roundsMerged: saved.integers[RunStateKey.roundsMerged]?.first ?? saved.round)
            state.clipNorm = saved.numbers[RunStateKey.privacyClipNorm]
            if let reports = saved.integers[RunStateKey.privacyReports] {
                guard let ledger = LocalPrivacyLedger(flattened: reports) else {
                    throw RunStateError.inconsistent(path: directory.state, field: "integers.\(RunStateKey.privacyReports)",
                                                     reason: "is not a list of (client ≥ 0, reports ≥ 1) pairs with each client once")
                }
                state.ledger = ledger
            }
            lastEval = saved.lastEval
            // Same run id, one more resume: clients keep their residuals and know which are stale.
            if let id = saved.strings[RunStateKey.runID]?.first { runID = id }
            resumes = (saved.integers[RunStateKey.resumes] ?? []) + [saved.round]
            try restoreSystemState(from: saved)
            elapsedBeforeResume = saved.elapsedSeconds
            point = ResumePoint(round: saved.round, unresponsive: Set(saved.unresponsive), registered: saved.registeredCount)
            position = saved.log
        }
        if point.round >= topology.rounds {
            throw RunFileError.cannotWrite(path: directory.path, reason: "all \(topology.rounds) rounds of this run are complete; nothing to resume")
        }
        // A run_end of an interrupted or failed run is cut with the rest of the unfinished round.
        let plan = try LogRepair.repair(path: directory.log, round: point.round, position: position)
        writer = try AggregationLogWriter(path: directory.log)
        var notes: [String] = []
        if !plan.isClean { notes.append(plan.summary) }
        if let last = plan.lastRound, last.round == point.round, point.round > 0, let note = try restoreLastCheckpoint(last) {
            notes.append(note)
        }
        if let recovered = store.recovered { notes.append(recovered) }
        if !removed.isEmpty { notes.append("removed \(removed.count) leftover temporary file\(removed.count == 1 ? "" : "s")") }
        try writer.append(.resumed(ResumedRecord(time: timestamp(), fromRound: point.round, cut: plan.cut,
                                                 reason: "aviary-server --resume" + (notes.isEmpty ? "" : ": " + notes.joined(separator: "; ")))))
        logger.notice("resuming", metadata: ["after_round": "\(point.round)", "cut": "\(plan.cut.count)", "removed": "\(removed.count)"])
        report(.resumed(fromRound: point.round + 1, notes: notes))
        return point
    }

    /// The last completed round's checkpoint must be the one its log line recorded (size and
    /// CRC-32). A missing or damaged one is rewritten from the run state (whose global model is
    /// that round's) and the rewrite is checked against the record; a note says what happened.
    func restoreLastCheckpoint(_ last: LogRepair.KeptRound) throws -> String? {
        guard let relative = last.checkpoint else { return nil }
        guard relative == RunDirectory.checkpointPath(round: last.round) else {
            throw RunFileError.mismatch(path: directory.log, reason: "round \(last.round)'s checkpoint is '\(relative)', expected '\(RunDirectory.checkpointPath(round: last.round))'")
        }
        let path = directory.checkpoint(round: last.round)
        let found = FileManager.default.contents(atPath: path).map { [UInt8]($0) }
        let problem: String
        if let found {
            let crc = CRC32.hex(CRC32.checksum(found))
            if let bytes = last.checkpointBytes, found.count != bytes {
                problem = "had \(found.count) bytes, the log recorded \(bytes)"
            } else if let logged = last.checkpointCrc32, crc != logged {
                problem = "had CRC-32 \(crc), the log recorded \(logged)"
            } else {
                return nil
            }
        } else {
            problem = "was missing"
        }
        let written = try checkpointer.write(state.global, round: last.round, run: topology.name, model: modelSpec.name)
        let matches = (last.checkpointCrc32.map { $0 == written.crc32 } ?? true) && (last.checkpointBytes.map { $0 == written.bytes } ?? true)
        let note = "\(relative) \(problem); rewrote it from the run state"
            + (matches ? "" : " (CRC-32 \(written.crc32), \(written.bytes) bytes: not the logged file; the state's model is round \(last.round)'s)")
        logger.warning("checkpoint restored", metadata: ["checkpoint": "\(relative)", "problem": "\(problem)", "matches_log": "\(matches)"])
        return note
    }

    /// A run that started with CURVE is never continued in plaintext: its clients would be
    /// locked out, and a stranger could take their places and read the model. The run's first
    /// log line (`run_start.curve`) says how it started; checked before anything is touched.
    private func refusePlaintextResumeOfCurveRun() throws {
        guard !options.security.isCurve, let handle = FileHandle(forReadingAtPath: directory.log) else { return }
        defer { try? handle.close() }
        var first = Data()
        while !first.contains(0x0A), let chunk = try handle.read(upToCount: 1 << 16), !chunk.isEmpty { first += chunk }
        guard let end = first.firstIndex(of: 0x0A) else { return }  // torn run_start: the run never got going
        let log = try AggregationLog.parse(first[...end], path: directory.log)
        guard let start = log.runStart, start.curve == true else { return }
        throw RunFileError.mismatch(path: directory.log, reason: "this run was started with CURVE (run_start.curve) and cannot "
            + "continue in plaintext; resume it with its keys: aviary-server --resume \(directory.path) --curve-secret FILE --allow FILE")
    }

    /// Records what resume needs after round `round` (`state`: the model state after it),
    /// atomically, after the round's log lines. `durable: false` writes it without fsync (see `RunStateStore`).
    func saveState(round: Int, state: ServerModelState, machine: ServerStateMachineSnapshot, clock: SimulatedClock? = nil,
                   durable: Bool = true) throws {
        var integers = [RunStateKey.roundsMerged: [state.roundsMerged]], numbers: [String: Double] = [:], vectors: [String: [Float]] = [:]
        if !resumes.isEmpty { integers[RunStateKey.resumes] = resumes }
        Self.systemState(clock: clock, stale: state.stale, into: &integers, numbers: &numbers, vectors: &vectors)
        if let clip = state.clipNorm { numbers[RunStateKey.privacyClipNorm] = clip }
        if topology.privacy.mode == .local { integers[RunStateKey.privacyReports] = state.ledger.flattened }
        if topology.privacy.mode == .central { integers[RunStateKey.privacyNoiseStream] = [round << 1 | (topology.privacy.clipping == .adaptive ? 1 : 0)] }
        let saved = RunState(
            run: topology.name, round: round, topologyDigest: RunState.digest(topology: Array(topology.source.utf8)),
            seeds: .init(partition: topology.seeds.partition, sampling: topology.seeds.sampling, training: topology.seeds.training,
                         system: topology.system?.seed),
            global: state.global, optimizer: state.optimizer, registeredCount: machine.registeredCount,
            unresponsive: machine.unresponsive.sorted(),
            mergeWindow: state.window.map { MergeWindowEntry(round: $0.round, loss: $0.loss, parameters: $0.parameters) },
            integers: integers, numbers: numbers, strings: [RunStateKey.runID: [runID]], lastEval: lastEval, vectors: vectors,
            log: writer.position, elapsedSeconds: elapsedBeforeResume + (now - startTime))
        try runStateStore.save(saved, durable: durable)
    }
}

extension FederatedServer {
    /// True when this run saves its run state only at durability points: its rounds are a
    /// function of the saved state, the seeds and the topology, so a resume from an earlier
    /// state runs the rounds after it again bit for bit (the log is cut back to that state's
    /// position, checkpoints are rewritten with the same bytes). Not so, and the state is
    /// saved after every round, when a round depends on more than that:
    /// - the wall clock orders buffered arrivals (`[server] clock = "wall"`);
    /// - SecAgg: a resumed round runs with fresh keys, other masks and rounding;
    /// - clients keep error-feedback residuals (top-k, or `error_feedback`): a client deletes
    ///   a residual once the server's state is past the round (`ResidualHistory`), which
    ///   assumes a state saved every round;
    /// - federated or evaluator evaluation (other processes' answers go into the log), and an
    ///   external model (the SDK's training is outside this build's determinism tests).
    var replaysFromDurablePoints: Bool {
        topology.server.buffered?.clock != .wall
            && !topology.secAgg.enabled
            && !topology.compression.usesErrorFeedback(topology.quantisation)
            && topology.evaluation.mode == .server
            && topology.model.kind != .external
    }

    /// 128 random bits: unique enough that two runs never share a client state directory.
    static func newRunID() -> String {
        let hex = { (x: UInt64) in String(x, radix: 16).leftPadded(to: 16) }
        return "run-" + hex(UInt64.random(in: 0...UInt64.max)) + hex(UInt64.random(in: 0...UInt64.max))
    }
}

private extension String {
    func leftPadded(to n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}

/// What the run state needs from the protocol state machine after a round.
struct ServerStateMachineSnapshot {
    var registeredCount: Int
    var unresponsive: Set<Int>
}
