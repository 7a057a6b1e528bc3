import AviaryMath
import AviarySecAgg
import AviaryMerge

/// The server's protocol logic as a value: events in, actions out. It owns registration (with
/// session tokens), liveness of client processes, client sampling, round deadlines and update
/// validation; it never touches a socket, a clock or a file. The server loop feeds it messages
/// and ticks (with a monotonic time in seconds) and carries out the actions it returns.
///
/// A `Peer` is one connection, i.e. one client process hosting any number of clients. The rules
/// (sampling, deadlines, validation, rejection reasons) are per client, so clients hosted by one
/// process cannot be told from clients on separate machines. State per client is two words
/// (holder and token), so 100,000 registered clients cost about 2 MB.
public struct ServerStateMachine<Peer: Hashable & Sendable>: Sendable {
    public struct Configuration: Sendable {
        /// Number of client slots (partitions). Client indices are 0..<clients.
        public var clients: Int
        /// Registrations needed before the first round starts.
        public var minClientsToStart: Int
        /// Clients sampled per round (capped at the number available).
        public var clientsPerRound: Int
        /// The last round.
        public var rounds: Int
        /// The first round to run: 1, or the round after the last completed one when resuming.
        public var firstRound: Int
        /// Length of every global parameter vector and delta.
        public var parameterCount: Int
        /// Seconds a round waits for updates before closing with whatever arrived.
        public var roundTimeout: Double
        /// Seconds to wait for `minClientsToStart` registrations before giving up.
        public var registrationTimeout: Double
        public var liveness: LivenessSettings
        public var samplingSeed: UInt64
        /// Seeds the session tokens. Tokens never influence results; the server draws this from
        /// the system's random source so that tokens cannot be predicted.
        public var tokenSeed: UInt64
        /// JSON of the run spec, sent verbatim in WELCOME.
        public var runSpec: [UInt8]
        /// Per-round config sent with every TRAIN.
        public var taskConfig: [String: Double]
        /// How UPDATE deltas are encoded and the model's tensor sizes they are checked against;
        /// nil: f32 over one tensor of `parameterCount`.
        public var deltaFormat: DeltaFormat? = nil
        /// With CURVE: the allow-list, whose index bindings HELLO claims must respect (the
        /// transport authenticates the key; this checks what the key may register). nil: none.
        public var allowList: AllowList?
        /// Sampled clients not asked to train (the simulated clock's predicted stragglers under
        /// `[system] straggler_policy = "drop"`); they stay in the round's `sampled`. nil: all train.
        public var notAsked: (@Sendable (_ sampled: [Int]) -> [Int])? = nil
        /// Where FedAvg's `dataset_size` weight input comes from: the partition's sizes when the
        /// server knows them, else the client's report, capped.
        public var datasetSizes: DatasetSizes = .reported(cap: DatasetSizes.defaultCap)
        /// Evaluation with EVALUATE between rounds (federated, or by the evaluator connection);
        /// nil: none (the server evaluates a built-in model itself).
        public var evaluation: EvaluationPlan? = nil
        /// `[server] sampling = "poisson"`: each client is in a round independently with this
        /// probability (`poissonSample`); nil: `clientsPerRound` drawn without replacement.
        public var poissonRate: Double? = nil
        /// Buffered mode on the wall clock (`ServerStateMachine+Wall.swift`): arrivals are
        /// applied as received, not in rounds; nil: rounds.
        public var wall: WallSchedule? = nil
        /// `[secagg]`: every round aggregates securely (SecAgg+) and no client sends an UPDATE
        /// in clear; nil: plain rounds.
        public var secAgg: SecAggPlan? = nil
        /// Fixed-size sampling drawn over every client index, available or not
        /// (`sampleOverAll`), so each client's inclusion probability is exactly
        /// clientsPerRound / clients, as central DP's without-replacement bound assumes
        /// (docs/PRIVACY.md); drawn clients that are unavailable sit the round out. false: drawn
        /// from the available clients only, which fills rounds when some are gone.
        public var sampleOverAllClients: Bool = false

        public init(clients: Int, minClientsToStart: Int, clientsPerRound: Int, rounds: Int, firstRound: Int = 1,
                    parameterCount: Int, roundTimeout: Double, registrationTimeout: Double,
                    liveness: LivenessSettings = LivenessSettings(), samplingSeed: UInt64, tokenSeed: UInt64 = 0x5EED,
                    runSpec: [UInt8], taskConfig: [String: Double] = [:], deltaFormat: DeltaFormat? = nil, allowList: AllowList? = nil,
                    datasetSizes: DatasetSizes = .reported(cap: DatasetSizes.defaultCap)) {
            self.clients = clients; self.minClientsToStart = minClientsToStart
            self.clientsPerRound = clientsPerRound; self.rounds = rounds; self.firstRound = firstRound
            self.parameterCount = parameterCount
            self.roundTimeout = roundTimeout; self.registrationTimeout = registrationTimeout
            self.liveness = liveness; self.samplingSeed = samplingSeed; self.tokenSeed = tokenSeed
            self.runSpec = runSpec; self.taskConfig = taskConfig; self.deltaFormat = deltaFormat; self.allowList = allowList
            self.datasetSizes = datasetSizes
        }
    }

    /// One HELLO's result, for the log: one record per HELLO, never one per client.
    public struct Registration: Sendable, Equatable {
        public var processName: String
        /// Newly registered clients (never held before, or held by a process that was lost).
        public var joined: [Int]
        /// Clients re-registered under their session token by a reconnected process.
        public var reconnected: [Int]
        public var refused: [WelcomeMessage.Refused]
    }

    public enum Action: Sendable {
        case send(Peer, Message)
        case registered(Peer, Registration)
        /// A message the machine ignored or refused, with why; the loop counts these per peer and
        /// logs a summary, never one line per message.
        case ignored(Peer, IgnoredMessage)
        case roundStarted(round: Int, sampled: [Int])
        /// A process was declared dead (missed heartbeats, unreachable, or left with BYE); its
        /// clients are unregistered until it (or a new process) registers them again.
        case peerLost(Peer, clients: [Int], reason: String)
        /// These clients missed the round deadline; they are left out of sampling until heard from.
        case clientsUnresponsive([Int])
        /// Clients marked unresponsive were heard from again.
        case clientsResponsive([Int])
        /// The round is closed: merge `outcome`, then call `roundCompleted(parameters:now:)`.
        case aggregate(RoundOutcome)
        /// An evaluation between rounds is over (every result in, the deadline passed, or the
        /// processes lost): log it with round `outcome.round`. The next round's actions follow.
        case evaluated(EvaluationOutcome)
        /// The run is over; SHUTDOWN has been sent to every live process in the same batch.
        case finished(success: Bool, reason: String)
    }

    struct Training: Sendable {
        var round: Int
        var sampled: [Int]
        var deadline: Double
        var pending: Set<Int>
        var received: [Int: ClientUpdate] = [:]
        var failures: [Int: FailureMessage] = [:]
        var rejected: [Rejection] = []
        var lost: [Int] = []
        var traffic = RoundTraffic()
        /// Under `[secagg]`: the round's stage machine and its report.
        var secAgg: SecAggInRound? = nil
    }

    enum Phase: Sendable {
        case idle
        case registering(deadline: Double)
        case training(Training)
        case aggregating(round: Int)
        /// Wall-clock buffered mode: clients train continuously; one phase for the whole run.
        case streaming(Streaming)
        case evaluating(Evaluating)
        case done
    }

    struct PeerState: Sendable {
        var peer: Peer
        var name: String
        var lastHeard: Double
        /// Clients bound to this peer at some point; entries whose holder moved on are skipped.
        var clients: [Int]
    }

    public let configuration: Configuration
    var phase: Phase = .idle
    /// Client index → slot in `peers` of the process hosting it, or -1.
    var holder: [Int32]
    /// Client index → its current session token (0: never registered).
    var tokens: [SessionToken]
    var peers: [PeerState?] = []
    var slotOfPeer: [Peer: Int32] = [:]
    var freeSlots: [Int32] = []
    /// Lowest index that may be free, for server-assigned claims (amortised O(1) per claim).
    var assignCursor = 0
    public internal(set) var registeredCount = 0
    /// Clients that missed a round deadline and have not been heard from since. They are not
    /// sampled, so one stuck client does not cost every later round a full timeout. An UPDATE
    /// or FAILURE for the client (even a late one) clears the mark.
    public internal(set) var unresponsive: Set<Int> = []
    /// Clients left out of the next sampling for simulated system reasons (offline, or still
    /// busy with a late update); the server sets it before each round starts.
    public var excluded: Set<Int> = []
    /// When set, only these clients are candidates for the next sampling (still registered and
    /// responsive): buffered mode's batch of a round, a few of a large population, which an
    /// `excluded` set of everyone else would cost O(clients) to build and to check every round.
    public var restrictedTo: Set<Int>? = nil
    /// Entries added to `taskConfig` in the next round's TRAIN (and in a TRAIN re-sent during
    /// it), e.g. adaptive clipping's clip norm for that round; the server sets it before each
    /// round starts.
    public var roundConfig: [String: Double] = [:]
    /// What a TRAIN carries: `taskConfig` with `roundConfig` over it.
    var trainConfig: [String: Double] { roundConfig.isEmpty ? configuration.taskConfig : configuration.taskConfig.merging(roundConfig) { $1 } }
    var globalParameters: [Float] = []
    /// The live evaluator connection (HELLO role 1), if any.
    var evaluator: EvaluatorState?
    var lastHeartbeat: Double = 0
    var tokenStream: RandomStream

    public init(configuration: Configuration) {
        precondition(configuration.clients > 0 && configuration.rounds > 0)
        precondition(configuration.firstRound >= 1)
        self.configuration = configuration
        holder = [Int32](repeating: -1, count: configuration.clients)
        tokens = [SessionToken](repeating: 0, count: configuration.clients)
        tokenStream = RandomStream(seed: configuration.tokenSeed, purpose: .other, index: 0x70CE)
    }

    public var currentRound: Int? {
        switch phase {
        case let .training(t): t.round
        case let .aggregating(round): round
        case let .evaluating(e): e.round
        case let .streaming(s): s.round
        default: nil
        }
    }

    /// Whether an evaluation between rounds is waiting for results.
    public var isEvaluating: Bool { if case .evaluating = phase { true } else { false } }

    public var isFinished: Bool { if case .done = phase { true } else { false } }

    /// The round in training: how many sampled clients have answered (or were lost) so far.
    public var roundProgress: (round: Int, answered: Int, sampled: Int)? {
        if case let .streaming(s) = phase, let wall = configuration.wall { return (s.round, min(s.buffer.count, wall.bufferSize), wall.bufferSize) }
        guard case let .training(t) = phase else { return nil }
        return (t.round, t.sampled.count - t.pending.count, t.sampled.count)
    }

    /// Number of live client processes.
    public var peerCount: Int { slotOfPeer.count }

    /// The process hosting `client`, if any.
    public func peer(hosting client: Int) -> Peer? {
        guard client >= 0, client < configuration.clients, holder[client] >= 0 else { return nil }
        return peers[Int(holder[client])]?.peer
    }

    /// The session token of `client` (0 when unregistered); for tests and diagnostics.
    public func token(of client: Int) -> SessionToken { tokens[client] }

    /// Begin accepting registrations; `parameters` is the initial (or resumed) global model,
    /// `unresponsive` the set carried over by a resumed run.
    public mutating func start(parameters: [Float], unresponsive: Set<Int> = [], now: Double) -> [Action] {
        precondition(parameters.count == configuration.parameterCount)
        globalParameters = parameters
        self.unresponsive = unresponsive.filter { $0 >= 0 && $0 < configuration.clients }
        if configuration.firstRound > configuration.rounds {
            return finish(success: true, reason: "all \(configuration.rounds) rounds were already complete")
        }
        phase = .registering(deadline: now + configuration.registrationTimeout)
        lastHeartbeat = now
        return []
    }

    /// `clientKey` is the CURVE public key the transport authenticated the connection with
    /// (nil without CURVE); with an allow-list it decides which indices a HELLO may claim.
    public mutating func receive(_ message: Message, from peer: Peer, clientKey: String? = nil, now: Double) -> [Action] {
        if let slot = slotOfPeer[peer] { peers[Int(slot)]!.lastHeard = now }
        if evaluator?.peer == peer { evaluator!.lastHeard = now }
        switch message {
        case let .hello(hello) where hello.role == .evaluator:
            return isFinished ? [.send(peer, .reject(RejectMessage(reason: "the run is over")))] : registerEvaluator(hello, peer: peer, now: now)
        case let .hello(hello): return register(hello, peer: peer, clientKey: clientKey, now: now)
        case .bye where isEvaluator(peer): return loseEvaluator(reason: "it said goodbye", now: now)
        case .heartbeat where isEvaluator(peer): return []
        case .update where isEvaluator(peer), .failure where isEvaluator(peer):
            return [.ignored(peer, .unauthenticated(message.kind, .notHosted(client: -1)))]
        case let .update(update): return accept(update, from: peer, now: now)
        case let .failure(failure): return recordFailure(failure, from: peer, now: now)
        case let .bye(bye): return leave(bye, from: peer, now: now)
        case .heartbeat:
            return slotOfPeer[peer] == nil ? reset(peer) : []
        case let .evalResult(result): return acceptEvalResult(result, from: peer, now: now)
        case let .secAggReply(reply): return acceptSecAgg(reply, from: peer, now: now)
        case .welcome, .reject, .train, .model, .shutdown, .reset, .evaluate, .secAgg:
            return [.ignored(peer, .serverOnly(message.kind))]
        }
    }

    /// A send to `peer` failed because its connection is gone (ZMQ_ROUTER_MANDATORY) or because
    /// it stopped reading (its queue is full): the process is lost now, not after the liveness
    /// window, and the server never waits on it.
    public mutating func peerUnreachable(_ peer: Peer, reason: String = "its connection is gone", now: Double) -> [Action] {
        if isEvaluator(peer) { return loseEvaluator(reason: reason, now: now) }
        guard let slot = slotOfPeer[peer] else { return [] }
        return lose(slot: slot, reason: reason, now: now)
    }

    /// Advance deadlines, liveness and heartbeats. Call at least every heartbeat interval.
    public mutating func tick(now: Double) -> [Action] {
        var actions: [Action] = []
        switch phase {
        case let .registering(deadline) where now >= deadline:
            return finish(success: false, reason: "only \(registeredCount) of \(configuration.minClientsToStart) required clients registered within \(configuration.registrationTimeout) s")
        case let .training(t) where now >= t.deadline:
            if let s = t.secAgg, Self.stageIndex(s.server.stage) != nil { return secAggDeadline(t, now: now) }
            return closeRound(t)
        case let .evaluating(e) where now >= e.deadline:
            return closeEvaluation(e, now: now)
        default: break
        }
        if isFinished { return [] }
        if case .streaming = phase {
            actions += tickWall(now: now)
            if isFinished { return actions }
        }
        let deadAfter = configuration.liveness.deadAfterSeconds
        for slot in slotOfPeer.values.sorted() where now - peers[Int(slot)]!.lastHeard > deadAfter {
            actions += lose(slot: slot, reason: "no message for \(formatSeconds(deadAfter)) s (\(configuration.liveness.missedHeartbeats) heartbeats)", now: now)
            if isFinished { return actions }
        }
        if let ev = evaluator, now - ev.lastHeard > deadAfter {
            actions += loseEvaluator(reason: "no message for \(formatSeconds(deadAfter)) s (\(configuration.liveness.missedHeartbeats) heartbeats)", now: now)
            if isFinished { return actions }
        }
        if now - lastHeartbeat >= configuration.liveness.heartbeatIntervalSeconds {
            lastHeartbeat = now
            for slot in slotOfPeer.values.sorted() { actions.append(.send(peers[Int(slot)]!.peer, .heartbeat)) }
            if let ev = evaluator { actions.append(.send(ev.peer, .heartbeat)) }
        }
        return actions
    }

    /// The server merged the last round; `parameters` is the new global model.
    public mutating func roundCompleted(parameters: [Float], now: Double) -> [Action] {
        if case let .streaming(s) = phase, s.merging {
            precondition(parameters.count == configuration.parameterCount)
            globalParameters = parameters
            return wallMerged(now: now)
        }
        guard case let .aggregating(round) = phase else { return [] }
        precondition(parameters.count == configuration.parameterCount)
        globalParameters = parameters
        return afterMerge(round, now: now)
    }

    /// Stop now (signal, fatal server error). SHUTDOWN goes to every live process.
    public mutating func abort(reason: String) -> [Action] { finish(success: false, reason: reason) }
}

/// Seconds as a short decimal ("6", "0.5").
func formatSeconds(_ s: Double) -> String {
    s == s.rounded() ? String(Int(s)) : String(s)
}
