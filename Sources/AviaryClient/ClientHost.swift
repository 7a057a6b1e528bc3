import Foundation
import Logging
import AviaryAdversarial
import AviaryData
import AviaryLog
import AviaryMath
import AviaryProtocol
import AviarySecAgg
import AviaryTopology
import AviaryTransport

/// One OS process hosting any number of federated clients over ONE connection to the server
/// (protocol version 2): clients are named by index in every message, the global model arrives
/// once per round however many hosted clients were sampled, and a hosted client costs nothing
/// but its index and token until it trains.
///
/// Two threads (three under `[secagg]`): this one runs the socket loop (registration,
/// heartbeats, reconnects, stop requests), so the process stays responsive while a
/// `TrainingWorker` thread trains the sampled clients one after another with one reused model
/// and trainer, and a `SecAggWorker` thread quantises, shares and masks their updates.
public final class ClientHost {
    public struct Options: Sendable {
        public var endpoint: String
        /// Client indices to host; nil entries ask the server to assign one.
        public var indices: [Int?]
        public var name: String
        /// Seconds of server silence before giving up (reconnects are tried until then).
        public var serverTimeout: Double
        /// Polled by the socket loop; true makes `run()` say goodbye and throw `HostError.interrupted`.
        public var shouldStop: @Sendable () -> Bool
        /// CURVE keys (this process's pair and the server's public key); nil: plaintext.
        public var curve: ClientCurve?
        /// Every hosted client attacks this way (`--byzantine`); nil for honest clients. Never
        /// sent to the server: attackers look like any other client on the wire.
        public var byzantine: ByzantineAttack?
        /// Where top-k error-feedback residuals are kept (`--state-dir`, one subdirectory per
        /// run); nil keeps them in memory, lost when the process ends.
        public var stateDirectory: String?
        /// Time source; tests pass a manual clock together with an in-memory transport.
        public var clock: any SecondsClock
        /// Opens a connection to the endpoint (again after a reconnect); nil: ZeroMQ.
        public var makeTransport: (@Sendable (_ endpoint: String, _ curve: ClientCurve?) throws -> any ClientTransport)?
        public init(endpoint: String, indices: [Int?], name: String, serverTimeout: Double = 120,
                    shouldStop: @escaping @Sendable () -> Bool = { false }, curve: ClientCurve? = nil,
                    byzantine: ByzantineAttack? = nil, stateDirectory: String? = nil,
                    clock: any SecondsClock = SystemSecondsClock(),
                    makeTransport: (@Sendable (_ endpoint: String, _ curve: ClientCurve?) throws -> any ClientTransport)? = nil) {
            self.endpoint = endpoint; self.indices = indices; self.name = name; self.serverTimeout = serverTimeout
            self.shouldStop = shouldStop; self.curve = curve; self.byzantine = byzantine
            self.stateDirectory = stateDirectory; self.clock = clock; self.makeTransport = makeTransport
        }
    }

    /// Bound on flushing the last frames (BYE) when the process leaves.
    static let exitFlush: Duration = .seconds(2)
    /// Socket poll timeout: how soon a finished training result is sent.
    static let pollInterval: Duration = .milliseconds(5)

    let options: Options
    let logger: Logger
    private var clock: any SecondsClock { options.clock }
    private var endpoint: (any ClientTransport)?
    private var machine: ClientStateMachine
    private let worker = TrainingWorker()
    /// Under `[secagg]`: the hosted clients' SecAgg stages, off this thread.
    private let secAggWorker = SecAggWorker()
    /// The latest round's global model; TRAIN requests of that round start from it.
    private var model: ModelMessage?
    /// This round's finished updates, sent again after a re-registration (the old connection
    /// may have lost them; the server ignores duplicates).
    private var sentThisRound: [UpdateMessage] = []
    private var exitError: HostError?
    /// The run id the worker's residuals belong to; nil until the first WELCOME.
    private var residualRun: String?? = nil
    /// How many times the server said it resumed this run when this process last configured
    /// its secure aggregation: a WELCOME with more is a restarted server.
    private var secAggResumes = 0
    /// The run has `[secagg]`: trained updates and SECAGG frames go to `secAggWorker`.
    private var secAggOn = false

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
        machine = ClientStateMachine(configuration: .init(
            processName: options.name, claims: options.indices, serverTimeout: options.serverTimeout,
            jitterSeed: UInt64(UInt32(bitPattern: getpid())) &* 0x9E37_79B9,
            tokenSeed: UInt64.random(in: 1...UInt64.max)))  // the system's random source: tokens unpredictable
    }

    /// Returns when the server has shut the run down; throws if this process cannot go on.
    public func run() throws {
        endpoint = try connect()
        defer {
            worker.stop()
            secAggWorker.stop()
            endpoint?.close(flushingFor: Self.exitFlush)
        }
        try perform(machine.start(now: clock.now))
        while !machine.isDone {
            if options.shouldStop() {
                try? perform(machine.stop(reason: "interrupted by a signal"))
                throw HostError.interrupted
            }
            if let received = try endpoint!.receive(timeout: Self.pollInterval) {
                switch received {
                case let .success(message): try perform(machine.receive(message, now: clock.now))
                case let .failure(error): logger.warning("malformed message from server dropped", metadata: ["error": "\(error)"])
                }
            }
            for result in worker.takeResults() { try deliver(result) }
            for result in worker.takeEvaluations() {
                logger.info("evaluated", metadata: ["client": "\(result.clientIndex)", "round": "\(result.round)",
                                                   "accuracy": "\(result.metrics["accuracy"].map { String(format: "%.4f", $0) } ?? result.error)"])
                try perform(machine.evaluated(result, now: clock.now))
            }
            for a in secAggWorker.takeAnswers() { try answer(a) }
            for warning in worker.takeWarnings() { logger.warning("old error-feedback residual not deleted", metadata: ["error": "\(warning)"]) }
            try perform(machine.tick(now: clock.now))
        }
        if let exitError { throw exitError }
    }

    /// A new connection to the server: the options' transport, else a ZeroMQ DEALER.
    private func connect() throws -> any ClientTransport {
        if let make = options.makeTransport { return try make(options.endpoint, options.curve) }
        return try ClientEndpoint(connect: options.endpoint, curve: options.curve)
    }

    private func deliver(_ result: TrainingWorker.Result) throws {
        switch result.outcome {
        case let .success(update):
            logger.info("trained", metadata: ["client": "\(update.clientIndex)", "round": "\(update.round)",
                                             "loss": "\(String(format: "%.4f", update.metrics["train_loss"] ?? update.metrics["adv_loss"] ?? .nan))",
                                             "seconds": "\(String(format: "%.3f", result.seconds))"])
            if secAggOn { return secAggWorker.enqueue(.trained(update)) }
            if update.round == model?.round { sentThisRound.append(update) }
            try perform(machine.trained(update, now: clock.now))
        case let .failure(error):
            logger.error("training failed", metadata: ["client": "\(result.client)", "round": "\(result.round)", "error": "\(error)"])
            try perform(machine.failed(round: result.round, client: result.client, reason: "\(error)", now: clock.now))
        }
    }

    /// Sends what the SecAgg worker answered, or logs why there is nothing. Under `[secagg]` a
    /// trained update is never sent: it becomes the client's masked input, and its keys go out
    /// (stage 1). Before the keys went out a problem is a FAILURE, so the round does not wait
    /// for the client; later the client stays silent and the server drops it from the round.
    private func answer(_ a: SecAggWorker.Answer) throws {
        switch a.outcome {
        case let .success(replies):
            for r in replies { try perform(machine.secAggAnswered(r, now: clock.now)) }
        case let .failure(problem):
            logger.error("secure aggregation: no answer", metadata: ["client": "\(a.client)", "round": "\(a.round)", "error": "\(problem)"])
            if a.failOnError { try perform(machine.failed(round: a.round, client: a.client, reason: "\(problem)", now: clock.now)) }
        }
    }

    private func perform(_ actions: [ClientStateMachine.Action]) throws {
        for action in actions {
            switch action {
            case let .send(message):
                do { try endpoint!.send(message) } catch {
                    // A send that times out means the server stopped reading; liveness notices.
                    logger.warning("send failed", metadata: ["kind": "\(message.kind)", "error": "\(error)"])
                }
            case let .configure(runSpec):
                try configure(try decode(runSpec))
            case let .hosted(accepted, refused):
                if !accepted.isEmpty {
                    logger.info("registered", metadata: ["clients": "\(CompactIndices(accepted))"])
                }
                for r in refused {
                    logger.warning("claims refused", metadata: ["claims": "\(r)", "retry": "\(r.retry)"])
                }
            case let .model(m):
                if m.round != model?.round { sentThisRound = [] }
                model = m
            case let .train(t):
                FaultInjection.crashPoint("client-train:\(t.round)")
                guard let model, model.round == t.round else {
                    for c in t.clients {
                        try perform(machine.failed(round: t.round, client: c, reason: "TRAIN for round \(t.round) arrived without its MODEL", now: clock.now))
                    }
                    continue
                }
                worker.enqueue(t.clients.map { TrainingWorker.Job(client: $0, model: model, config: t.config) })
            case let .evaluate(e):
                guard let model, model.round == e.round else {
                    for c in e.clients {
                        try perform(machine.evaluated(EvalResultMessage(round: e.round, clientIndex: c, samples: 0, metrics: [:],
                                                                        error: "EVALUATE for round \(e.round) arrived without its MODEL"), now: clock.now))
                    }
                    continue
                }
                worker.enqueue(e.clients.map { TrainingWorker.Job(client: $0, model: model, config: e.config, evaluate: true) })
            case let .secAgg(m):
                FaultInjection.crashPoint("client-secagg:\(m.round):\(m.stage)")
                guard secAggOn else {
                    logger.warning("SECAGG in a run without [secagg] ignored", metadata: ["client": "\(m.clientIndex)", "round": "\(m.round)"])
                    continue
                }
                secAggWorker.enqueue(.received(m))
            case let .reconnect(reason):
                logger.warning("reconnecting", metadata: ["reason": "\(reason)"])
                endpoint?.close(flushingFor: .zero)
                endpoint = try connect()
            case let .reregistered(runSpec):
                try adopt(runSpec: runSpec)
                logger.info("registered again", metadata: ["resending": "\(sentThisRound.count)"])
                for update in sentThisRound { try perform(machine.trained(update, now: clock.now)) }
            case let .exit(success, reason):
                if success {
                    logger.info("finished", metadata: ["reason": "\(reason)"])
                } else {
                    exitError = .stopped(reason: reason)
                }
            }
        }
    }

    /// A WELCOME after the first: the same run carries on (the worker learns the server's resume
    /// history, which tells it which residuals belong to replayed rounds); another run means
    /// training and residuals start over.
    private func adopt(runSpec: [UInt8]) throws {
        let spec = try decode(runSpec)
        if let current = residualRun, current == spec.runID {
            worker.adopt(spec)
            if secAggOn && spec.resumes.count > secAggResumes {
                // A restarted server replays its round with fresh keys: this process's secrets
                // and stage state belong to the dead server's round, and keeping them would make
                // the replay's stage 1 look like a repeat, so every hosted client would sit it out.
                logger.info("the server resumed: secure aggregation starts its round over")
                try configureSecAgg(spec)
            }
        } else {
            logger.warning("the server is running another run now; configuring for it", metadata: ["run": "\(spec.runID ?? "unnamed")"])
            try configure(spec)
        }
    }

    /// Training for a run new to this process, with a new place for its top-k residuals.
    private func configure(_ spec: RunSpec) throws {
        residualRun = .some(spec.runID)
        try configureSecAgg(spec)
        worker.configure(try makeTraining(spec), residuals: try residualStore(for: spec), hosted: Set(machine.tokens.keys))
    }

    /// A fresh secure-aggregation participation for `spec` (none without `[secagg]`): queued
    /// SecAgg jobs and answers of the old one are dropped.
    private func configureSecAgg(_ spec: RunSpec) throws {
        var participation: SecAggParticipation?
        if spec.secagg != nil {
            guard let rule = spec.secaggWeight else {
                throw ClientError.badRunSpec(reason: "[secagg] is on but the run spec names no secaggWeight rule")
            }
            participation = SecAggParticipation(rule: rule, trainingSeed: spec.trainingSeed)
        }
        secAggOn = participation != nil
        secAggResumes = spec.resumes.count
        secAggWorker.configure(participation)
    }

    private func decode(_ runSpec: [UInt8]) throws -> RunSpec {
        do { return try JSONDecoder().decode(RunSpec.self, from: Data(runSpec)) } catch {
            throw ClientError.badRunSpec(reason: "\(error)")
        }
    }

    /// Where the run's error-feedback residuals (top-k, f16/int8 with error_feedback) go: the state directory, else memory (with a warning).
    private func residualStore(for spec: RunSpec) throws -> ResidualStore {
        guard spec.compression.usesErrorFeedback(spec.quantisation) else { return MemoryResidualStore() }  // holds nothing
        if let directory = options.stateDirectory, let runID = spec.runID {
            do {
                let store = try DirectoryResidualStore(stateDirectory: directory, runID: runID)
                logger.info("error-feedback residuals on disk", metadata: ["directory": "\(store.root)"])
                return store
            } catch { throw ClientError.stateDirectory(error) }
        }
        logger.warning("error feedback keeps residuals in memory: a restarted process starts its clients from zero; give --state-dir DIR to keep them on disk")
        return MemoryResidualStore()
    }

    private func makeTraining(_ spec: RunSpec) throws -> LocalTraining {
        guard spec.model.isBuiltIn else {
            throw ClientError.badRunSpec(reason: "the run's model is external (\(spec.model.name), [model] kind = \"external\"), which aviary-client cannot train; its clients run in another process, e.g. python -m aviary_client (docs/TOPOLOGY.md, \"[processes]\")")
        }
        BLAS.setThreads(spec.blasThreads)
        let dataset: FederatedDataset
        do { dataset = try FederatedDataset.shared(spec: spec.data) } catch {
            throw ClientError.dataset(reason: "\(error)")
        }
        if let outside = options.indices.compactMap({ $0 }).first(where: { $0 >= spec.data.clients }) {
            throw ClientError.setup(client: outside, reason: "the topology has clients 0..<\(spec.data.clients)")
        }
        let training = LocalTraining(spec: spec, dataset: dataset)
        training.attack = options.byzantine
        return training
    }
}

public enum HostError: Error, CustomStringConvertible {
    case stopped(reason: String)
    case interrupted
    public var description: String {
        switch self {
        case .interrupted: "interrupted by a signal"
        case let .stopped(reason): reason
        }
    }
}
