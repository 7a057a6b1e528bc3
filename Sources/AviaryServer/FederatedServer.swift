import Foundation
import Logging
import AviaryAdversarial
import AviaryData
import AviaryLog
import AviaryMath
import AviaryMerge
import AviaryNN
import AviaryProtocol
import AviarySecAgg
import AviaryTopology
import AviaryTransport

/// Runs one federation. The calling thread runs the socket loop: it feeds `ServerStateMachine`
/// and carries out its actions (sends, log notes), so registration and heartbeats never wait.
/// Each closed round goes to a worker thread (`RoundProcessor`: merge, evaluation); the loop
/// writes its results (checkpoint, log line, run state) when it is back. Never a
/// Swift-concurrency task: sockets are polled with timeouts (docs/ARCHITECTURE.md, "Threads").
public final class FederatedServer {
    public struct Options {
        public var overwrite: Bool
        /// Continue the run in the run directory from its last completed round.
        public var resume: Bool
        /// Receives progress events (the command layer prints them); nil: silent.
        public var progress: (@Sendable (RunProgress) -> Void)?
        /// Polled every loop iteration; true stops the run (SHUTDOWN to clients, `run_end` logged).
        public var shouldStop: @Sendable () -> Bool
        /// Time source; tests pass a manual clock together with an in-memory transport.
        public var clock: any SecondsClock
        /// Builds the transport from the bind address and the frame size limit; nil: ZeroMQ.
        public var makeTransport: ((String, Int) throws -> any ServerTransport)?
        /// Run merge and evaluation on a worker thread (true in production; tests may run them inline).
        public var roundsOnWorkerThread: Bool
        /// CURVE keys and allow-list, or plaintext (docs/PROTOCOL.md, "Security").
        public var security: ServerSecurity
        /// The git commit of this build, for `run_start.aviary_build` (nil: not known).
        public var build: String?

        public init(overwrite: Bool = false, resume: Bool = false, progress: (@Sendable (RunProgress) -> Void)? = nil,
                    shouldStop: @escaping @Sendable () -> Bool = { false }, clock: any SecondsClock = SystemSecondsClock(),
                    makeTransport: ((String, Int) throws -> any ServerTransport)? = nil, roundsOnWorkerThread: Bool = true,
                    security: ServerSecurity = .plaintext, build: String? = nil) {
            self.overwrite = overwrite; self.resume = resume; self.progress = progress; self.shouldStop = shouldStop
            self.clock = clock; self.makeTransport = makeTransport; self.roundsOnWorkerThread = roundsOnWorkerThread
            self.security = security; self.build = build
        }
    }

    public struct Summary: Sendable {
        public var roundsCompleted: Int
        public var finalEval: Evaluation?
        public var success: Bool
        public var reason: String
        public var runDirectory: String
        /// Clients lost during the run and whether they came back (nil: none was lost).
        public var population: String?
    }

    /// Bound on flushing SHUTDOWN to every process before the server exits.
    static let shutdownFlush: Duration = .seconds(3)
    /// Bounds on one batch of received events between two checks of signals, deadlines and
    /// heartbeats (docs/ARCHITECTURE.md, "Threads").
    static let batchEvents = 10_000
    static let batchTime: Duration = .milliseconds(50)

    let topology: Topology
    let options: Options
    let logger: Logger
    let directory: RunDirectory
    let data: FederatedDataset
    let modelSpec: ModelSpec
    let processor: RoundProcessor
    var state: ServerModelState
    let checkpointer: Checkpointer
    var writer: AggregationLogWriter!
    var transport: (any ServerTransport)!
    var startTime = 0.0
    /// Wall time of the run before this process resumed it.
    var elapsedBeforeResume = 0.0

    // Per-round bookkeeping of the loop.
    var roundsCompleted = 0
    var lastEval: Evaluation?
    var lastNothingMerged: String?
    var roundStartedAt = 0.0
    var aggregateStartedAt = 0.0
    var bytesSent = 0
    var bytesReceived = 0
    var answered = 0
    var encodedModel: (round: Int, message: EncodedMessage)?
    /// Refused or ignored messages per connection since the last summary (never one log line each).
    var issues = ProtocolIssueCounter()
    /// A fault-injection point reached once the current batch of sends has gone out.
    var crashAfterSends: String?
    var pendingWrite: PendingRound?
    /// The run state's store (one per run: it knows which vectors are already on disk).
    /// Durable saves fsync in the background: the loop does not wait on the disk (docs/LOG.md, "Durability").
    lazy var runStateStore: RunStateStore = {
        let store = RunStateStore(directory: directory)
        store.backgroundDurability = true
        return store
    }()
    /// When the last durable write (fsynced checkpoint, log and run state) finished; nil before the
    /// first (a fresh run that replays from durability points starts it at its start).
    var lastDurableWrite: ContinuousClock.Instant?
    /// Seconds spent writing the last finished round (checkpoint, log lines, run state): the next
    /// round's `persist_seconds`.
    var lastPersistSeconds: Double?
    /// Rounds are written without fsync between durability points at most this far apart
    /// (`[server] durable_interval`, docs/LOG.md "Durability"): a kill -9 loses nothing, a power
    /// loss at most this much.
    var durableInterval: Duration { .milliseconds(Int64((topology.server.durableInterval * 1000).rounded())) }
    /// The last written round whose run state is not saved yet (`replaysFromDurablePoints`):
    /// saved when the loop ends, so a stopped run resumes after its last round without a replay.
    var unsavedRound: (round: Int, state: ServerModelState, machine: ServerStateMachineSnapshot, clock: SimulatedClock?)?
    /// `[system]`'s simulated clock (nil without one), and the offline/busy clients of the round it entered.
    var simulatedClock: SimulatedClock?
    /// Names this run in the run spec (clients keep top-k residuals under it) and, with
    /// `resumes`, survives a resume through the run state.
    var runID = FederatedServer.newRunID()
    /// The rounds this run resumed after, oldest first (`RunSpec.resumes`).
    var resumes: [Int] = []
    var systemRoundEntered: (offline: [Int], busy: [Int]) = ([], [])
    /// Buffered mode's schedule, computed at start (and again on resume) from the topology alone.
    var bufferedPlan: BufferedPlan? = nil
    /// Wall-clock buffered mode: the last server update's time (wall seconds since the start).
    var lastWallClose: Double? = nil
    /// Clients lost during the run and whether they came back (the run's verdict).
    var population = PopulationWatch()
    /// The name each live process gave in its HELLO (`proc-3`), so log lines name processes, not routing ids.
    var processNames: [PeerID: String] = [:]
    /// Why the run stops before `[run] rounds` (`[privacy] on_budget = "stop"`), for run_end.
    var budgetStop: String? = nil
    /// When the last handshake warning of each log event was written (FederatedServer+Handshakes).
    var lastHandshakeWarning: [String: Double] = [:]

    public init(topology original: Topology, options: Options, logger: Logger) throws {
        // `[privacy] on_budget = "stop"`: the run is planned to its last round within the budget.
        var topology = original
        if topology.plannedRounds < topology.rounds, let target = topology.privacy.targetEpsilon, let account = topology.privacyAccount {
            let next = topology.plannedRounds + 1
            budgetStop = "privacy budget: ε after round \(next) would be \(account.epsilon(afterRounds: next)) > target_epsilon \(target); stopped after round \(topology.plannedRounds) of \(topology.rounds) (on_budget = \"stop\")"
            topology.rounds = topology.plannedRounds
        }
        self.topology = topology
        self.options = options
        self.logger = logger
        directory = RunDirectory(path: topology.output + "/" + topology.name)
        data = try FederatedDataset(spec: topology.data)
        let test = data.globalTest()
        let evaluator: GlobalEvaluator?
        let initial: [Float]
        if topology.model.kind == .external {
            // The server cannot run it: the tensors and initial values come from the parameters
            // file (the run directory's copy when resuming), and the server evaluates nothing.
            let file = try ExternalModelFile.load(path: options.resume ? directory.externalModelInit : topology.model.parameters ?? "",
                                                  topology: directory.topology)
            modelSpec = .external(file.model)
            evaluator = nil
            initial = file.initial
        } else {
            modelSpec = try topology.model.resolve(sampleShape: test.sampleShape, classes: test.classes)
            let built = try GlobalEvaluator(model: modelSpec, test: test, validationFraction: topology.validationFraction,
                                            robust: topology.robustEvaluation, seed: topology.seeds.training)
            // With `[evaluation] mode` "federated" or "evaluator" the round's `eval` comes from
            // EVAL_RESULTs; the server's own model only makes the initial parameters.
            evaluator = topology.evaluation.mode == .server ? built : nil
            initial = built.initialParameters(seed: topology.seeds.training)
        }
        processor = RoundProcessor(topology: topology, evaluator: evaluator)
        state = ServerModelState(global: initial, optimizer: try ServerOptimizer(spec: topology.merge.serverOptimizer), window: [])
        checkpointer = Checkpointer(directory: directory, layout: modelSpec.layout)
        simulatedClock = try Self.makeSimulatedClock(topology: topology, data: data, parameterCount: state.global.count,
                                                     tensorSizes: modelSpec.layout.tensors.map(\.count))
        if let buffered = topology.server.buffered, let clock = simulatedClock {
            let plan = BufferedPlan(topology: topology, clock: clock)
            if let stall = plan.stall { throw BufferedPlanError.stalled(stall, rounds: topology.rounds, bufferSize: buffered.bufferSize) }
            bufferedPlan = plan
        }
    }

    var now: Double { options.clock.now }

    func report(_ event: RunProgress) { options.progress?(event) }

    public func run() throws -> Summary {
        startTime = now
        var firstRound = 1
        var unresponsive: Set<Int> = []
        var minClients = topology.server.minClients
        // Bind before anything is written: a server that cannot listen leaves no run behind.
        var transportOptions = TransportOptions()
        if topology.secAgg.enabled {
            // Each SecAgg stage sends one SECAGG frame per client, so a process hosting many of
            // a round's clients gets that many at once, beyond the 100 a reading process queues
            // otherwise. Room for every client of a round (Poisson sampling: twice the mean).
            transportOptions.peerQueueMessages = max(transportOptions.peerQueueMessages,
                                                     Int32(clamping: 2 * topology.server.clientsPerRound + 100))
        }
        transport = try options.makeTransport?(topology.server.bind, maxMessageBytes)
            ?? ServerEndpoint(bind: topology.server.bind, maxMessageBytes: maxMessageBytes, options: transportOptions, security: options.security)
        defer { transport.close(flushingFor: Self.shutdownFlush) }
        if options.resume {
            let resumed = try resumeFromState()
            firstRound = resumed.round + 1
            unresponsive = resumed.unresponsive
            // Sampling draws from the registered set: wait for as many as the interrupted run had.
            minClients = min(topology.data.clients, max(minClients, resumed.registered))
            population = PopulationWatch(registered: resumed.registered)
        } else {
            try directory.create(overwrite: options.overwrite)
            try AtomicFile.write(Data(topology.source.utf8), to: directory.topology)
            if let parameters = topology.model.parameters, topology.model.kind == .external {
                // Kept beside topology.toml: a resume reads the model's tensors from here.
                try AtomicFile.write(try Data(contentsOf: URL(fileURLWithPath: parameters)), to: directory.externalModelInit)
            }
            writer = try AggregationLogWriter(path: directory.log)
            // A fresh run that replays from durability points has its first point
            // `durableInterval` after it starts (or at its last round), not at its first round: a
            // kill before it resumes from the start and runs the rounds again, bit for bit (docs/LOG.md,
            // "Durability"). Round 1's point wrote every held-back delta of a buffered run (~20 MB).
            if replaysFromDurablePoints { lastDurableWrite = ContinuousClock.now }
        }

        try AtomicFile.write(Data((transport.boundEndpoint + "\n").utf8), to: directory.endpoint)
        logger.info("listening", metadata: ["endpoint": "\(transport.boundEndpoint)", "run": "\(directory.path)",
                                            "curve": "\(options.security.isCurve)"])
        report(.listening(endpoint: transport.boundEndpoint, runDirectory: directory.path))

        var spec = topology.runSpec(model: modelSpec)
        spec.runID = runID
        spec.resumes = resumes
        let trainSizes = try clientTrainSizes
        if topology.secAgg.enabled {
            spec.secaggWeight = SecAggWeightRule.of(topology, largestPartition: trainSizes.max() ?? 1)
        }
        let specJSON = try JSONEncoder().encode(spec)
        if !options.resume { try writer.append(.runStart(runStartRecord())) }

        var tokenSeed: UInt64 = 0
        while tokenSeed == 0 { tokenSeed = UInt64.random(in: 1...UInt64.max) }
        var configuration: ServerStateMachine<PeerID>.Configuration = withSystem(.init(
            clients: topology.data.clients, minClientsToStart: minClients,
            clientsPerRound: topology.server.clientsPerRound, rounds: topology.rounds, firstRound: firstRound,
            parameterCount: state.global.count, roundTimeout: topology.server.roundTimeout,
            registrationTimeout: topology.server.registrationTimeout,
            liveness: LivenessSettings(heartbeatIntervalSeconds: topology.server.heartbeatInterval),
            samplingSeed: topology.seeds.sampling, tokenSeed: tokenSeed, runSpec: Array(specJSON),
            deltaFormat: DeltaFormat(encoding: topology.compression, tensorSizes: modelSpec.layout.tensors.map(\.count)),
            allowList: options.security.allowList, datasetSizes: .known(trainSizes)))
        if topology.secAgg.enabled {
            let settings = topology.secAgg, vectorLength = state.global.count + 1  // + the weight coordinate
            // Each of stages 2–4 gets the round timeout: masking expands k + 1 PRG streams of
            // the model's length, seconds on a loaded machine at 500 clients.
            configuration.secAgg = SecAggPlan(stageTimeout: topology.server.roundTimeout) { round, participants in
                do throws(SecAggError) {
                    return .success(try settings.parameters(round: round, participants: participants, vectorLength: vectorLength))
                } catch { return .failure(error) }
            }
        }
        if topology.server.sampling == .poisson {
            configuration.poissonRate = Double(topology.server.clientsPerRound) / Double(topology.data.clients)
        } else if topology.privacy.mode == .central && topology.privacySamplingRate < 1 {
            // The without-replacement bound ε is reported with holds for m drawn of all N.
            configuration.sampleOverAllClients = true
        }
        configuration.evaluation = evaluationPlan
        configuration.wall = wallSchedule
        var machine = ServerStateMachine<PeerID>(configuration: configuration)
        enterSystemRound(firstRound, machine: &machine)
        machine.roundConfig = processor.privacy.roundConfig(state)
        let queue = machine.start(parameters: state.global, unresponsive: unresponsive, now: now)
        roundsCompleted = firstRound - 1
        let outcome: (success: Bool, reason: String)
        let worker = RoundWorker(processor: processor, onThread: options.roundsOnWorkerThread)

        do {
            outcome = try serve(machine: &machine, queue: queue, worker: worker)
            if let last = unsavedRound {
                // A run stopped between durability points (a signal, a verdict) resumes after its
                // last written round, not from the durability point before it.
                try saveState(round: last.round, state: last.state, machine: last.machine, clock: last.clock, durable: true)
                unsavedRound = nil
            }
            try runStateStore.waitForDurability()
        } catch {
            // Whatever ended the run (a full disk, a state the store refuses), the clients hear
            // SHUTDOWN and the log gets its run_end with the reason.
            endRunAfterError(error, machine: &machine)
            throw error
        }
        return try finishRun(outcome, machine: machine)
    }

    /// The socket loop: carries out the state machine's actions, hands closed rounds to
    /// `worker`, writes finished ones, and feeds in messages and ticks until the run is over.
    /// Returns the state machine's verdict.
    private func serve(machine: inout ServerStateMachine<PeerID>, queue initial: [ServerStateMachine<PeerID>.Action],
                       worker: RoundWorker) throws -> (success: Bool, reason: String) {
        var queue = initial
        var outcome: (success: Bool, reason: String) = (false, "not started")
        loop: while true {
            while !queue.isEmpty {
                let action = queue.removeFirst()
                if case let .aggregate(result) = action {
                    aggregateStartedAt = now
                    report(.aggregating(round: result.round))
                    worker.start(result, state: state, system: closeSystemRound(result), inline: mergesInline(result))
                } else if case let .finished(success, reason) = action {
                    outcome = (success, reason)
                } else {
                    queue += try carryOut(action, machine: &machine)
                }
            }
            if let point = crashAfterSends { crashAfterSends = nil; FaultInjection.crashPoint(point) }
            // A round whose model is being evaluated (EVALUATE sent) is written once its results are in.
            if var written = pendingWrite, !machine.isEvaluating {
                // The next round's tasks are out: clients train while the finished round is
                // written. A crash before its state is saved resumes one round earlier, which
                // replays it bit for bit.
                pendingWrite = nil
                written.serverSeconds = now - written.closedAt
                written.persistSeconds = lastPersistSeconds
                let persistStarted = now
                // Durability points: the last round, at least every `durableInterval`, and the
                // first round a resumed process (or one that saves every round) writes; in between
                // nothing is fsynced (docs/LOG.md, "Durability").
                let durable = lastDurableWrite.map { ContinuousClock.now - $0 >= durableInterval } ?? true
                    || written.result.record.round >= topology.rounds
                writer.syncEachRecord = false
                defer { writer.syncEachRecord = true }
                try finishRound(written, durable: durable)
                if durable { try writer.sync() }
                if durable || !replaysFromDurablePoints {
                    try saveState(round: roundsCompleted, state: state, machine: written.snapshot, clock: written.clock, durable: durable)
                    unsavedRound = nil
                } else {
                    // Resume goes back to the last saved state and runs these rounds again, bit for
                    // bit (docs/LOG.md, "Durability"); nothing about them needs saving now.
                    unsavedRound = (roundsCompleted, state, written.snapshot, written.clock)
                }
                // The last round's state is on disk before the run ends (and the wait is counted).
                if written.result.record.round >= topology.rounds { try runStateStore.waitForDurability() }
                if durable { lastDurableWrite = ContinuousClock.now }
                lastPersistSeconds = now - persistStarted
                FaultInjection.crashPoint("round-saved:\(roundsCompleted)")
            }
            if machine.isFinished { break loop }
            if let result = worker.takeResult() {
                state = result.state
                pendingWrite = PendingRound(
                    result: result, duration: now - roundStartedAt, bytesSent: bytesSent, bytesReceived: bytesReceived,
                    closedAt: aggregateStartedAt, serverSeconds: 0,
                    snapshot: ServerStateMachineSnapshot(registeredCount: machine.registeredCount, unresponsive: machine.unresponsive),
                    clock: simulatedClock)
                enterSystemRound(result.record.round + 1, machine: &machine)
                machine.roundConfig = processor.privacy.roundConfig(state)
                queue += machine.roundCompleted(parameters: state.global, now: now)
                continue
            }
            if options.shouldStop() {
                queue += machine.abort(reason: "interrupted by a signal")
                continue
            }
            // Drain what has arrived in a bounded batch (events and time), so signals, heartbeats
            // and deadlines are served between batches even under a flood.
            var budget = Self.batchEvents
            let batchEnds = ContinuousClock.now + Self.batchTime
            // While a round is being merged, look for its result every millisecond: the merge of a
            // small model takes less than that, and the loop must not add latency to every round.
            var wait: Duration = worker.isBusy ? .milliseconds(1) : .milliseconds(20)
            while budget > 0, let event = try transport.receive(timeout: wait) {
                wait = .zero
                budget -= 1
                queue += receive(event, machine: &machine)
                // A batch's answers go out with it: a HELLO flood must not pile up actions.
                if queue.count >= Self.batchEvents || ContinuousClock.now >= batchEnds { break }
                // A merged round ends the batch: its next sends must not wait for a stream of
                // updates to drain (that wait was counted in `server_seconds`).
                if worker.hasResult { break }
            }
            for refused in transport.takeRefusedHandshakes() {
                issues.count(source: refused.address, "CURVE handshake refused", times: refused.attempts,
                             example: "key \(refused.key) from \(refused.address) is not on the allow-list")
            }
            let failed = transport.takeHandshakeFailures()
            if !failed.isEmpty { try noteHandshakeFailures(failed) }
            queue += machine.tick(now: now)
            if let progress = machine.roundProgress, progress.answered != answered {
                answered = progress.answered
                report(.answered(round: progress.round, answered: progress.answered, sampled: progress.sampled))
            }
        }
        return outcome
    }

    private func receive(_ event: ServerEvent, machine: inout ServerStateMachine<PeerID>) -> [ServerStateMachine<PeerID>.Action] {
        switch event {
        case let .message(peer, message, bytes, clientKey):
            bytesReceived += bytes
            return machine.receive(message, from: peer, clientKey: clientKey, now: now)
        case let .malformed(peer, error, bytes):
            bytesReceived += bytes
            issues.count(peer: peer, "malformed frame: \(error.category)", example: "\(error)")
            if case .unsupportedVersion = error {
                // Tell the peer why it is ignored, so its own log shows the version mismatch.
                _ = try? transport.send(.reject(RejectMessage(reason: "\(error)")), to: peer)
            }
            return []
        }
    }

    /// Carries out one action of the state machine; returns follow-up actions (a lost peer).
    private func carryOut(_ action: ServerStateMachine<PeerID>.Action,
                          machine: inout ServerStateMachine<PeerID>) throws -> [ServerStateMachine<PeerID>.Action] {
        switch action {
        case let .send(peer, message):
            do {
                if case let .model(m) = message {
                    // One MODEL per round, many processes: encode the global vector once.
                    if encodedModel?.round != m.round { encodedModel = (m.round, EncodedMessage(message)) }
                    bytesSent += try transport.send(encodedModel!.message, to: peer)
                } else {
                    bytesSent += try transport.send(message, to: peer)
                }
            } catch .peerUnreachable {
                return machine.peerUnreachable(peer, now: now)
            } catch .peerNotReading {
                // Never wait for one peer: the others' heartbeats, HELLOs and signals come first.
                issues.count(peer: peer, "send queue full",
                             example: "the queue towards this connection is full: it stopped reading, so it was dropped")
                return machine.peerUnreachable(peer, reason: "it stopped reading (the server's queue towards it is full)", now: now)
            } catch {
                logger.warning("send failed", metadata: ["process": "\(processName(peer))", "error": "\(error)"])
            }
        case let .registered(peer, registration):
            population.registered(registration.joined + registration.reconnected, registeredCount: machine.registeredCount)
            processNames[peer] = registration.processName
            try logRegistration(registration, peer: peer)
            if registration.refused.isEmpty, machine.isEvaluator(peer) {
                try writer.append(.note(NoteRecord(event: "evaluator_registered", time: timestamp(),
                                                   message: "\(registration.processName): registered as the evaluator")))
            }
        case let .ignored(peer, why):
            issues.count(peer: peer, why.category, example: "\(why)")
        case let .clientsUnresponsive(clients):
            logger.warning("clients missed the deadline; not sampled until heard from", metadata: ["clients": "\(CompactIndices(clients))"])
            try writer.append(.note(NoteRecord(event: "clients_unresponsive", time: timestamp(), round: machine.currentRound,
                                               message: "missed the round deadline: clients \(CompactIndices(clients)); left out of sampling until heard from")))
        case let .clientsResponsive(clients):
            try writer.append(.note(NoteRecord(event: "clients_responsive", time: timestamp(),
                                               message: "heard from again: clients \(CompactIndices(clients)); sampled from the next round")))
        case let .peerLost(peer, clients, reason):
            if !machine.isFinished { population.lost(clients) }
            logger.warning("process lost", metadata: ["process": "\(processName(peer))", "clients": "\(CompactIndices(clients))", "reason": "\(reason)"])
            processNames[peer] = nil
            try writer.append(.note(NoteRecord(event: "process_lost", time: timestamp(), round: machine.currentRound,
                                               message: "the process hosting clients \(CompactIndices(clients)) was dropped: \(reason)")))
        case let .roundStarted(round, sampled):
            roundStartedAt = now
            bytesSent = 0
            bytesReceived = 0
            answered = 0
            logger.debug("round started", metadata: ["round": "\(round)", "sampled": "\(CompactIndices(sampled))"])
            report(.roundStarted(round: round, sampled: sampled.count))
            crashAfterSends = "round-started:\(round)"  // once the round's MODEL/TRAIN are out
        case .aggregate, .finished:
            break  // handled by the loop
        case let .evaluated(outcome):
            try recordEvaluation(outcome)
        }
        return []
    }

    private func logRegistration(_ r: ServerStateMachine<PeerID>.Registration, peer: PeerID) throws {
        for refused in r.refused {
            issues.count(peer: peer, refused.reason.category, times: refused.claims, example: refused.description)
        }
        guard !r.joined.isEmpty || !r.reconnected.isEmpty else { return }
        var parts: [String] = []
        if !r.joined.isEmpty { parts.append("registered clients \(CompactIndices(r.joined))") }
        if !r.reconnected.isEmpty { parts.append("re-registered clients \(CompactIndices(r.reconnected)) under their session tokens") }
        let message = "\(r.processName): " + parts.joined(separator: "; ")
        logger.info("registration", metadata: ["process": "\(r.processName)", "joined": "\(r.joined.count)", "reconnected": "\(r.reconnected.count)"])
        try writer.append(.note(NoteRecord(event: r.reconnected.isEmpty ? "clients_registered" : "clients_reconnected",
                                           time: timestamp(), message: message)))
        FaultInjection.crashPoint("registered")
    }

    /// A merged round waiting to be written once the next round's tasks are out.
    struct PendingRound {
        var result: RoundResult
        /// From the round's start to its merge result; the round's own bytes.
        var duration: Double
        var bytesSent: Int
        var bytesReceived: Int
        /// When the round closed; `serverSeconds` runs from there to the next round's sends.
        var closedAt: Double
        var serverSeconds: Double
        /// The previous round's write time (`persist_seconds`).
        var persistSeconds: Double? = nil
        var snapshot: ServerStateMachineSnapshot
        /// The simulated clock after this round (saved with the run state).
        var clock: SimulatedClock?
    }

    /// Writes a finished round: checkpoint, merged checkpoint, log lines (the run state follows).
    private func finishRound(_ pending: PendingRound, durable: Bool) throws {
        let result = pending.result
        var record = result.record
        let round = record.round
        if let eval = record.eval { lastEval = eval }
        if let note = result.merge.failureNote {
            logger.warning("merge refused the round; global model kept", metadata: ["round": "\(round)", "reason": "\(note)"])
            try writer.append(.note(NoteRecord(event: "merge_failed", time: timestamp(), round: round, message: note)))
        }
        if result.merge.nothingMerged != nil { lastNothingMerged = result.merge.nothingMerged }
        let every = topology.server.checkpointEvery
        if every > 0 && (round % every == 0 || round == topology.rounds) {
            let written = try checkpointer.write(state.global, round: round, run: topology.name, model: modelSpec.name, sync: durable)
            record.checkpoint = written.path
            record.checkpointBytes = written.bytes
            record.checkpointCrc32 = written.crc32
        }
        var mergeRecord: CheckpointMergeRecord?
        if let merged = result.checkpointMerge {
            var r = merged.record
            r.time = timestamp()
            r.checkpoint = try checkpointer.writeMerged(merged.parameters, round: round, rounds: r.rounds, run: topology.name, sync: durable)
            mergeRecord = r
        }
        record.time = timestamp()
        record.durationSeconds = pending.duration
        record.bytesSent = pending.bytesSent
        record.bytesReceived = pending.bytesReceived
        record.serverSeconds = pending.serverSeconds
        record.persistSeconds = pending.persistSeconds
        record.serverRssBytes = ResidentMemory.bytes()
        try writer.append(.round(record))
        if let mergeRecord { try writer.append(.checkpointMerge(mergeRecord)) }
        if let summary = issues.summary() {
            try writer.append(.note(NoteRecord(event: "protocol_issues", time: timestamp(), round: round, message: summary)))
        }
        roundsCompleted = round
        FaultInjection.crashPoint("round-logged:\(round)")
        report(.roundFinished(record, nothingMerged: result.merge.nothingMerged))
        if let mergeRecord { report(.checkpointMerged(mergeRecord)) }
    }

    /// Rounds merged on the loop's own thread: no evaluation or checkpoint merge due, no secure
    /// sum to unmask, no privacy step, a strategy linear in the updates (a weighted mean), and
    /// at most `inlineMergeWork` values to sum (updates × parameters), so heartbeats and events
    /// wait no longer than for one batch of events. Other rounds go to the worker thread
    /// (docs/ARCHITECTURE.md, "Threads").
    func mergesInline(_ outcome: RoundOutcome) -> Bool {
        let round = outcome.round
        let evaluates = processor.evaluator != nil && (round % topology.server.evalEvery == 0 || round == topology.rounds)
        return topology.merge.strategy.isWeightedMean && !evaluates && outcome.secAgg == nil && topology.privacy.mode == .none
            && (outcome.updates.count + state.stale.count) * state.global.count <= Self.inlineMergeWork
    }
    /// 10 updates of a 1.6M-parameter model, 80 of the 200k-parameter MLP.
    static let inlineMergeWork = 16_000_000

    /// Every client's local training-set size, derived from the partition: FedAvg's weight
    /// input, so no client can claim a size it does not have.
    var clientTrainSizes: [Int] {
        get throws { try (0..<topology.data.clients).map { try data.clientSizes($0).train } }
    }

    /// Messages larger than the model plus generous headroom are refused by libzmq itself. A
    /// HELLO claims its process's clients (17 bytes each: the index and a token), and one process
    /// may host every client: above ~60,000 clients per process the claims outgrow the headroom,
    /// and libzmq would drop the HELLO without a word (a 1,000,000-client run never registered).
    var maxMessageBytes: Int { Self.maxMessageBytes(parameters: state.global.count, clients: topology.data.clients) }
    static func maxMessageBytes(parameters: Int, clients: Int) -> Int { parameters * 4 + (1 << 20) + clients * 17 }
}
