import Foundation
import Logging
import AviaryAdversarial
import AviaryData
import AviaryLog
import AviaryMath
import AviaryMerge
import AviaryNN
import AviaryProtocol
import AviaryTopology
import AviaryTransport

/// Runs one federation: binds the ROUTER, drives `ServerStateMachine`, merges, evaluates,
/// checkpoints and logs. Synchronous on the calling thread (never a Swift-concurrency task:
/// the socket is polled with timeouts, see docs/ARCHITECTURE.md "Threads").
public final class FederatedServer {
    public struct Options: Sendable {
        public var overwrite: Bool
        /// Print one progress line per round to stdout.
        public var progress: Bool
        /// Polled every loop iteration; true stops the run (SHUTDOWN to clients, `run_end` logged).
        public var shouldStop: @Sendable () -> Bool
        /// Continue the run already in the run directory (`--resume`) instead of starting one.
        public var resume: Bool
        public init(overwrite: Bool = false, progress: Bool = true, shouldStop: @escaping @Sendable () -> Bool = { false },
                    resume: Bool = false) {
            self.overwrite = overwrite; self.progress = progress; self.shouldStop = shouldStop; self.resume = resume
        }
    }

    public struct Summary: Sendable {
        public var roundsCompleted: Int
        public var finalEval: Evaluation?
        public var success: Bool
        public var reason: String
        public var runDirectory: String
    }

    let topology: Topology
    let options: Options
    let logger: Logger
    let directory: RunDirectory
    let data: FederatedDataset
    let modelSpec: ModelSpec
    let evaluator: GlobalEvaluator
    var optimizer: ServerOptimizer
    var global: [Float]
    var checkpointer: Checkpointer
    private var logWriter: AggregationLogWriter?
    private let start = ContinuousClock.now
    var roundStarted = ContinuousClock.now
    var roundsCompleted = 0
    var lastEval: Evaluation?
    /// Recent global models for checkpoint merging: (round, parameters, evaluation loss).
    var recentGlobals: [(round: Int, parameters: [Float], loss: Double)] = []

    public init(topology: Topology, options: Options, logger: Logger) throws {
        self.topology = topology
        self.options = options
        self.logger = logger
        directory = RunDirectory(path: topology.output + "/" + topology.name)
        data = try FederatedDataset(spec: topology.data)
        let test = data.globalTest()
        modelSpec = try topology.model.resolve(sampleShape: test.sampleShape, classes: test.classes)
        evaluator = try GlobalEvaluator(model: modelSpec, test: test, validationFraction: topology.validationFraction,
                                        robust: topology.robustEvaluation,
                                        seed: topology.seeds.training)
        optimizer = try ServerOptimizer(spec: topology.merge.serverOptimizer)
        global = evaluator.initialParameters(seed: topology.seeds.training)
        checkpointer = Checkpointer(directory: directory, layout: evaluator.network.layout)
    }

    var now: Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    public func run() throws -> Summary {
        try directory.create(overwrite: options.overwrite)
        try AtomicFile.write(Data(topology.source.utf8), to: directory.topology)
        let writer = try AggregationLogWriter(path: directory.log)
        logWriter = writer

        let endpoint = try ServerEndpoint(bind: topology.server.bind, maxMessageBytes: maxMessageBytes)
        defer { endpoint.close() }
        try AtomicFile.write(Data((endpoint.boundEndpoint + "\n").utf8), to: directory.endpoint)
        logger.info("listening", metadata: ["endpoint": "\(endpoint.boundEndpoint)", "run": "\(directory.path)"])

        let runSpec = topology.runSpec(model: modelSpec)
        let specJSON = try JSONEncoder().encode(runSpec)
        try writer.append(.runStart(runStartRecord()))

        var machine = ServerStateMachine<PeerID>(configuration: .init(
            clients: topology.data.clients, minClientsToStart: topology.server.minClients,
            clientsPerRound: topology.server.clientsPerRound, rounds: topology.rounds,
            parameterCount: global.count, roundTimeout: topology.server.roundTimeout,
            registrationTimeout: topology.server.registrationTimeout,
            heartbeatInterval: topology.server.heartbeatInterval,
            samplingSeed: topology.seeds.sampling, runSpec: Array(specJSON)))
        var queue = machine.start(parameters: global, now: now)
        var encodedTask: (round: Int, message: EncodedMessage)?
        var outcome: (success: Bool, reason: String) = (false, "not started")

        while true {
            while !queue.isEmpty {
                switch queue.removeFirst() {
                case let .send(peer, message):
                    do {
                        if case let .task(task) = message {
                            // One TASK per round, many peers: encode the global vector once.
                            if encodedTask?.round != task.round { encodedTask = (task.round, EncodedMessage(message)) }
                            try endpoint.send(encodedTask!.message, to: peer)
                        } else {
                            try endpoint.send(message, to: peer)
                        }
                    } catch {
                        logger.warning("send failed", metadata: ["peer": "\(peer)", "error": "\(error)"])
                    }
                case let .clientJoined(index, name, rejoined):
                    logger.info(rejoined ? "client rejoined" : "client joined", metadata: ["client": "\(index)", "name": "\(name)"])
                    try writer.append(.note(NoteRecord(event: rejoined ? "client_rejoined" : "client_joined",
                                                       time: timestamp(), client: index, message: name)))
                case let .clientRefused(name, reason):
                    logger.warning("client refused", metadata: ["name": "\(name)", "reason": "\(reason)"])
                case let .ignored(why):
                    logger.notice("ignored message", metadata: ["why": "\(why)"])
                case let .clientsUnresponsive(clients):
                    logger.warning("clients missed the deadline; not sampled until heard from", metadata: ["clients": "\(clients)"])
                    try writer.append(.note(NoteRecord(event: "clients_unresponsive", time: timestamp(),
                                                       message: "missed the round deadline: \(clients); left out of sampling until heard from")))
                case let .clientResponsive(index):
                    logger.info("client responsive again", metadata: ["client": "\(index)"])
                    try writer.append(.note(NoteRecord(event: "client_responsive", time: timestamp(), client: index,
                                                       message: "heard from again; sampled from the next round")))
                case let .roundStarted(round, sampled):
                    roundStarted = .now
                    logger.debug("round started", metadata: ["round": "\(round)", "sampled": "\(sampled)"])
                case let .aggregate(result):
                    try finishRound(result, writer: writer)
                    queue += machine.roundCompleted(parameters: global, now: now)
                case let .finished(success, reason):
                    outcome = (success, reason)
                }
            }
            if machine.isFinished { break }
            if options.shouldStop() {
                queue += machine.abort(reason: "interrupted by a signal")
                continue
            }
            switch try endpoint.receive(timeout: .milliseconds(50)) {
            case let .message(peer, message)?:
                queue += machine.receive(message, from: peer, now: now)
            case let .malformed(peer, error)?:
                logger.warning("malformed message dropped", metadata: ["peer": "\(peer)", "error": "\(error)"])
                if case .unsupportedVersion = error {
                    // Tell the peer why it is ignored, so its own log shows the version mismatch.
                    try? endpoint.send(.reject(Reject(reason: "\(error)")), to: peer)
                }
            case nil:
                break
            }
            queue += machine.tick(now: now)
        }
        // Let SHUTDOWN frames leave before the socket closes (linger is bounded in the transport).
        try writer.append(.runEnd(RunEndRecord(time: timestamp(), roundsCompleted: roundsCompleted, durationSeconds: now,
                                               status: outcome.success ? "completed" : "failed: \(outcome.reason)",
                                               finalEval: lastEval)))
        return Summary(roundsCompleted: roundsCompleted, finalEval: lastEval, success: outcome.success,
                       reason: outcome.reason, runDirectory: directory.path)
    }

    /// Messages larger than the model plus generous headroom are refused by libzmq itself.
    var maxMessageBytes: Int { global.count * 4 + (1 << 20) }
}
