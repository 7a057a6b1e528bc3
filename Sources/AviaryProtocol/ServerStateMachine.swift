import AviaryMath

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

        public init(clients: Int, minClientsToStart: Int, clientsPerRound: Int, rounds: Int, firstRound: Int = 1,
                    parameterCount: Int, roundTimeout: Double, registrationTimeout: Double,
                    liveness: LivenessSettings = LivenessSettings(), samplingSeed: UInt64, tokenSeed: UInt64 = 0x5EED,
                    runSpec: [UInt8], taskConfig: [String: Double] = [:], deltaFormat: DeltaFormat? = nil, allowList: AllowList? = nil) {
            self.clients = clients; self.minClientsToStart = minClientsToStart
            self.clientsPerRound = clientsPerRound; self.rounds = rounds; self.firstRound = firstRound
            self.parameterCount = parameterCount
            self.roundTimeout = roundTimeout; self.registrationTimeout = registrationTimeout
            self.liveness = liveness; self.samplingSeed = samplingSeed; self.tokenSeed = tokenSeed
            self.runSpec = runSpec; self.taskConfig = taskConfig; self.deltaFormat = deltaFormat; self.allowList = allowList
        }
    }

    /// What one round produced, handed to the merge. `updates` are sorted by client index: the
    /// merge order, whatever order they arrived in.
    public struct RoundOutcome: Sendable, Equatable {
        public var round: Int
        public var sampled: [Int]
        public var updates: [UpdateMessage]
        public var failures: [FailureMessage]
        public var rejected: [Rejected]
        /// Sampled clients that had not answered when the round deadline passed.
        public var timedOut: [Int]
        /// Sampled clients whose process was lost (liveness expired, or its connection dropped)
        /// before they answered; the round did not wait for them.
        public var lost: [Int]
        /// Frame bytes per client, up and down (encoded sizes, so deterministic).
        public var traffic = RoundTraffic()

        public init(round: Int, sampled: [Int], updates: [UpdateMessage], failures: [FailureMessage],
                    rejected: [Rejected], timedOut: [Int], lost: [Int]) {
            self.round = round; self.sampled = sampled; self.updates = updates; self.failures = failures
            self.rejected = rejected; self.timedOut = timedOut; self.lost = lost
        }
    }

    public struct Rejected: Sendable, Equatable {
        public var client: Int
        public var reason: String
        public init(client: Int, reason: String) { self.client = client; self.reason = reason }
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
        case ignored(Peer, String)
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
        /// The run is over; SHUTDOWN has been sent to every live process in the same batch.
        case finished(success: Bool, reason: String)
    }

    struct Training: Sendable {
        var round: Int
        var sampled: [Int]
        var deadline: Double
        var pending: Set<Int>
        var received: [Int: UpdateMessage] = [:]
        var failures: [Int: FailureMessage] = [:]
        var rejected: [Rejected] = []
        var lost: [Int] = []
        var traffic = RoundTraffic()
    }

    enum Phase: Sendable {
        case idle
        case registering(deadline: Double)
        case training(Training)
        case aggregating(round: Int)
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
    var globalParameters: [Float] = []
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
        default: nil
        }
    }

    public var isFinished: Bool { if case .done = phase { true } else { false } }

    /// The round in training: how many sampled clients have answered (or were lost) so far.
    public var roundProgress: (round: Int, answered: Int, sampled: Int)? {
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
        switch message {
        case let .hello(hello): return register(hello, peer: peer, clientKey: clientKey, now: now)
        case let .update(update): return accept(update, from: peer, now: now)
        case let .failure(failure): return recordFailure(failure, from: peer, now: now)
        case let .bye(bye): return leave(bye, from: peer, now: now)
        case .heartbeat:
            return slotOfPeer[peer] == nil ? reset(peer) : []
        case .welcome, .reject, .train, .model, .shutdown, .reset:
            return [.ignored(peer, "sent \(message.kind), which only the server sends")]
        }
    }

    /// A send to `peer` failed because its connection is gone (ZMQ_ROUTER_MANDATORY): the
    /// process is lost now, not after the liveness window.
    public mutating func peerUnreachable(_ peer: Peer, now: Double) -> [Action] {
        guard let slot = slotOfPeer[peer] else { return [] }
        return lose(slot: slot, reason: "its connection is gone", now: now)
    }

    /// Advance deadlines, liveness and heartbeats. Call at least every heartbeat interval.
    public mutating func tick(now: Double) -> [Action] {
        var actions: [Action] = []
        switch phase {
        case let .registering(deadline) where now >= deadline:
            return finish(success: false, reason: "only \(registeredCount) of \(configuration.minClientsToStart) required clients registered within \(configuration.registrationTimeout) s")
        case let .training(t) where now >= t.deadline:
            return closeRound(t)
        default: break
        }
        if isFinished { return [] }
        let deadAfter = configuration.liveness.deadAfterSeconds
        for slot in slotOfPeer.values.sorted() where now - peers[Int(slot)]!.lastHeard > deadAfter {
            actions += lose(slot: slot, reason: "no message for \(formatSeconds(deadAfter)) s (\(configuration.liveness.missedHeartbeats) heartbeats)", now: now)
            if isFinished { return actions }
        }
        if now - lastHeartbeat >= configuration.liveness.heartbeatIntervalSeconds {
            lastHeartbeat = now
            for slot in slotOfPeer.values.sorted() { actions.append(.send(peers[Int(slot)]!.peer, .heartbeat)) }
        }
        return actions
    }

    /// The server merged the last round; `parameters` is the new global model.
    public mutating func roundCompleted(parameters: [Float], now: Double) -> [Action] {
        guard case let .aggregating(round) = phase else { return [] }
        precondition(parameters.count == configuration.parameterCount)
        globalParameters = parameters
        if round >= configuration.rounds {
            return finish(success: true, reason: "completed \(round) rounds")
        }
        return startRound(round + 1, now: now)
    }

    /// Stop now (signal, fatal server error). SHUTDOWN goes to every live process.
    public mutating func abort(reason: String) -> [Action] { finish(success: false, reason: reason) }

    // MARK: - Rounds

    /// Clients for `round`: a seeded sample without replacement from the available indices,
    /// returned ascending. Depends only on (sampling seed, round, available set).
    public static func sample(from candidates: [Int], count: Int, seed: UInt64, round: Int) -> [Int] {
        // Callers pass ascending indices (startRound does); sorting them is then a linear check.
        var pool = candidates.sorted()
        let k = min(count, pool.count)
        var rng = RandomStream(seed: seed, purpose: .sampling, index: UInt64(round))
        for i in 0..<k {
            let j = i + rng.nextInt(below: pool.count - i)
            pool.swapAt(i, j)
        }
        return Array(pool[0..<k]).sorted()
    }

    mutating func startRound(_ round: Int, now: Double) -> [Action] {
        var candidates: [Int] = []
        candidates.reserveCapacity(registeredCount)
        if unresponsive.isEmpty && excluded.isEmpty {
            for i in 0..<configuration.clients where holder[i] >= 0 { candidates.append(i) }
        } else {
            for i in 0..<configuration.clients where holder[i] >= 0 && !unresponsive.contains(i) && !excluded.contains(i) { candidates.append(i) }
        }
        let sampled = Self.sample(from: candidates, count: configuration.clientsPerRound,
                                  seed: configuration.samplingSeed, round: round)
        guard !sampled.isEmpty else {
            if !excluded.isEmpty && (0..<configuration.clients).contains(where: { holder[$0] >= 0 && !unresponsive.contains($0) }) {
                // Everyone is offline or busy on the simulated clock: an empty round, not the end of the run.
                let empty = Training(round: round, sampled: [], deadline: now, pending: [])
                phase = .training(empty)
                return [.roundStarted(round: round, sampled: [])] + closeRound(empty)
            }
            return finish(success: false, reason: "no responsive clients left at round \(round) (\(registeredCount) registered, \(unresponsive.count) missed a deadline and went silent)")
        }
        let notAsked = Set(configuration.notAsked?(sampled) ?? [])
        let asked = notAsked.isEmpty ? sampled : sampled.filter { !notAsked.contains($0) }
        var t = Training(round: round, sampled: sampled, deadline: now + configuration.roundTimeout, pending: Set(asked))
        phase = .training(t)
        var actions: [Action] = [.roundStarted(round: round, sampled: sampled)]
        if asked.isEmpty { return actions + closeRound(t) }
        // One MODEL and one TRAIN per process, however many of its clients were sampled.
        var bySlot: [Int32: [Int]] = [:]
        for i in asked { bySlot[holder[i], default: []].append(i) }
        let model = Message.model(ModelMessage(round: round, parameters: globalParameters))
        let modelBytes = WireCodec.encodedSize(model)
        for slot in bySlot.keys.sorted() {
            let peer = peers[Int(slot)]!.peer
            let train = Message.train(TrainMessage(round: round, clients: bySlot[slot]!, config: configuration.taskConfig))
            actions.append(.send(peer, model))
            actions.append(.send(peer, train))
            t.traffic.downSent += modelBytes + WireCodec.encodedSize(train)
        }
        // A TRAIN naming one client has the same size whichever client it names.
        let alone = modelBytes + WireCodec.encodedSize(.train(TrainMessage(round: round, clients: [0], config: configuration.taskConfig)))
        for i in asked { t.traffic.down[i] = alone }
        phase = .training(t)
        lastHeartbeat = now
        return actions
    }

    /// Checks that `peer` hosts `client` under `token`; a reason when it does not.
    private func authenticate(client: Int, token: SessionToken, peer: Peer) -> String? {
        guard client >= 0, client < configuration.clients else { return "names client \(client), outside 0..<\(configuration.clients)" }
        guard let slot = slotOfPeer[peer], holder[client] == slot else { return "names client \(client), which this connection does not host" }
        guard token == tokens[client] else { return "carries the wrong session token for client \(client)" }
        return nil
    }

    mutating func heardFrom(_ client: Int) -> [Action] {
        unresponsive.remove(client) != nil ? [.clientsResponsive([client])] : []
    }

    private mutating func accept(_ update: UpdateMessage, from peer: Peer, now: Double) -> [Action] {
        if slotOfPeer[peer] == nil { return reset(peer) }
        if let problem = authenticate(client: update.clientIndex, token: update.token, peer: peer) {
            return [.ignored(peer, "UPDATE \(problem)")]
        }
        let sender = update.clientIndex
        var actions = heardFrom(sender)
        guard case var .training(t) = phase else {
            return actions + [.ignored(peer, "UPDATE for round \(update.round) from client \(sender) arrived between rounds")]
        }
        guard update.round == t.round else {
            return actions + [.ignored(peer, "stale UPDATE from client \(sender) for round \(update.round) (current round \(t.round))")]
        }
        guard t.pending.remove(sender) != nil else {
            let why = t.sampled.contains(sender) ? "duplicate UPDATE from client \(sender)" : "UPDATE from client \(sender), which was not sampled"
            return actions + [.ignored(peer, "\(why) in round \(t.round)")]
        }
        t.traffic.up[sender] = WireCodec.encodedSize(.update(update))
        // Decoded here, on arrival: everything past this point sees a dense, checked f32 delta.
        var update = update
        let format = configuration.deltaFormat ?? .f32(parameterCount: configuration.parameterCount)
        // (An f32 delta in an f32 run goes straight to `problem(with:)`, whose reasons name it.)
        if update.payload.tag != 0 || format.encoding != .f32 {
            do throws(DeltaDecodingError) {
                update.payload = .f32(try DeltaCodec.decode(update.payload, format: format))
            } catch {
                t.rejected.append(Rejected(client: sender, reason: "\(error)"))
                phase = .training(t)
                return actions + closeIfComplete(now: now)
            }
        }
        if let reason = Self.problem(with: update, parameterCount: configuration.parameterCount) {
            t.rejected.append(Rejected(client: sender, reason: reason))
        } else {
            t.received[sender] = update
        }
        phase = .training(t)
        actions += closeIfComplete(now: now)
        return actions
    }

    /// Why an update cannot be merged, or nil. This is the edge: nothing past it sees a wrong
    /// shape, a NaN or a bad metric.
    public static func problem(with update: UpdateMessage, parameterCount: Int) -> String? {
        if update.delta.count != parameterCount {
            return "delta has \(update.delta.count) values, the model has \(parameterCount)"
        }
        if let bad = validateFinite(update.delta) {
            return "delta[\(bad)] is \(update.delta[bad])"
        }
        if update.samples <= 0 {
            return "reported \(update.samples) samples"
        }
        for (key, value) in update.metrics.sorted(by: { $0.key < $1.key }) where !value.isFinite {
            return "metric \(key) is \(value)"
        }
        return nil
    }

    private mutating func recordFailure(_ failure: FailureMessage, from peer: Peer, now: Double) -> [Action] {
        if slotOfPeer[peer] == nil { return reset(peer) }
        if let problem = authenticate(client: failure.clientIndex, token: failure.token, peer: peer) {
            return [.ignored(peer, "FAILURE \(problem)")]
        }
        let sender = failure.clientIndex
        var actions = heardFrom(sender)
        guard case var .training(t) = phase, failure.round == t.round, t.pending.remove(sender) != nil else {
            return actions + [.ignored(peer, "FAILURE from client \(sender) for round \(failure.round) is not for a pending task")]
        }
        t.failures[sender] = failure
        t.traffic.up[sender] = WireCodec.encodedSize(.failure(failure))
        phase = .training(t)
        actions += closeIfComplete(now: now)
        return actions
    }

    mutating func closeIfComplete(now: Double) -> [Action] {
        guard case let .training(t) = phase, t.pending.isEmpty else { return [] }
        return closeRound(t)
    }

    mutating func closeRound(_ t: Training) -> [Action] {
        var outcome = RoundOutcome(
            round: t.round, sampled: t.sampled,
            updates: t.received.keys.sorted().map { t.received[$0]! },
            failures: t.failures.keys.sorted().map { t.failures[$0]! },
            rejected: t.rejected.sorted { $0.client < $1.client },
            timedOut: t.pending.sorted(),
            lost: t.lost.sorted())
        outcome.traffic = t.traffic
        phase = .aggregating(round: t.round)
        unresponsive.formUnion(outcome.timedOut)
        return outcome.timedOut.isEmpty ? [.aggregate(outcome)] : [.clientsUnresponsive(outcome.timedOut), .aggregate(outcome)]
    }

    mutating func finish(success: Bool, reason: String) -> [Action] {
        if isFinished { return [] }
        phase = .done
        var actions: [Action] = []
        for slot in slotOfPeer.values.sorted() {
            actions.append(.send(peers[Int(slot)]!.peer, .shutdown(ShutdownMessage(reason: reason))))
        }
        actions.append(.finished(success: success, reason: reason))
        return actions
    }
}

/// Seconds as a short decimal ("6", "0.5").
func formatSeconds(_ s: Double) -> String {
    s == s.rounded() ? String(Int(s)) : String(s)
}
