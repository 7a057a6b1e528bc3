import AviaryMath

/// The server's protocol logic as a value: events in, actions out. It owns registration, client
/// sampling, round deadlines and update validation; it never touches a socket, a clock or a file.
/// The server loop feeds it messages and ticks (with a monotonic time in seconds) and carries out
/// the actions it returns. Tested without ZeroMQ in Tests/AviaryProtocolTests.
public struct ServerStateMachine<Peer: Hashable & Sendable>: Sendable {
    public struct Configuration: Sendable {
        /// Number of client slots (partitions). Client indices are 0..<clients.
        public var clients: Int
        /// Registrations needed before round 1 starts.
        public var minClientsToStart: Int
        /// Clients sampled per round (capped at the number registered).
        public var clientsPerRound: Int
        public var rounds: Int
        /// Length of every global parameter vector and delta.
        public var parameterCount: Int
        /// Seconds a round waits for updates before closing with whatever arrived.
        public var roundTimeout: Double
        /// Seconds to wait for `minClientsToStart` registrations before giving up.
        public var registrationTimeout: Double
        /// Seconds between server heartbeats to registered clients (any message counts as one).
        public var heartbeatInterval: Double
        public var samplingSeed: UInt64
        /// JSON of the run spec, sent verbatim in WELCOME.
        public var runSpec: [UInt8]
        /// Per-round config sent with every TASK.
        public var taskConfig: [String: Double]

        public init(clients: Int, minClientsToStart: Int, clientsPerRound: Int, rounds: Int, parameterCount: Int,
                    roundTimeout: Double, registrationTimeout: Double, heartbeatInterval: Double = 2,
                    samplingSeed: UInt64, runSpec: [UInt8], taskConfig: [String: Double] = [:]) {
            self.clients = clients; self.minClientsToStart = minClientsToStart
            self.clientsPerRound = clientsPerRound; self.rounds = rounds; self.parameterCount = parameterCount
            self.roundTimeout = roundTimeout; self.registrationTimeout = registrationTimeout
            self.heartbeatInterval = heartbeatInterval; self.samplingSeed = samplingSeed
            self.runSpec = runSpec; self.taskConfig = taskConfig
        }
    }

    /// What one round produced, handed to the merge. `updates` are sorted by client index: the
    /// merge order, whatever order they arrived in.
    public struct RoundOutcome: Sendable, Equatable {
        public var round: Int
        public var sampled: [Int]
        public var updates: [Update]
        public var failures: [Failure]
        public var rejected: [Rejected]
        public var timedOut: [Int]
    }

    public struct Rejected: Sendable, Equatable {
        public var client: Int
        public var reason: String
    }

    public enum Action: Sendable {
        case send(Peer, Message)
        case clientJoined(index: Int, name: String, rejoined: Bool)
        case clientRefused(name: String, reason: String)
        /// A message the machine ignored, with why (stale round, unknown peer, …): worth logging.
        case ignored(String)
        case roundStarted(round: Int, sampled: [Int])
        /// These clients missed the round deadline; they are left out of sampling until heard from.
        case clientsUnresponsive([Int])
        /// A client marked unresponsive was heard from again.
        case clientResponsive(index: Int)
        /// The round is closed: merge `outcome`, then call `roundCompleted(parameters:now:)`.
        case aggregate(RoundOutcome)
        /// The run is over; SHUTDOWN has been sent to every registered client in the same batch.
        case finished(success: Bool, reason: String)
    }

    enum Phase: Sendable {
        case idle
        case registering(deadline: Double)
        case training(round: Int, sampled: [Int], deadline: Double, received: [Int: Update], failures: [Int: Failure], rejected: [Rejected])
        case aggregating(round: Int)
        case done
    }

    public let configuration: Configuration
    private(set) var phase: Phase = .idle
    /// Client index → the peer that registered it (last registration wins: a restarted client re-binds).
    public private(set) var registered: [Int: Peer] = [:]
    private var clientOfPeer: [Peer: Int] = [:]
    /// Clients that missed a round deadline and have not been heard from since. They are not
    /// sampled, so one dead client process does not cost every later round a full timeout.
    /// Any message from the client (idle clients answer heartbeats) clears the mark.
    public private(set) var unresponsive: Set<Int> = []
    private var globalParameters: [Float] = []
    private var lastHeartbeat: Double = 0

    public init(configuration: Configuration) {
        precondition(configuration.clients > 0 && configuration.rounds > 0)
        self.configuration = configuration
    }

    public var currentRound: Int? {
        switch phase {
        case let .training(round, _, _, _, _, _), let .aggregating(round): round
        default: nil
        }
    }

    public var isFinished: Bool { if case .done = phase { true } else { false } }

    /// Begin accepting registrations; `parameters` is the initial global model.
    public mutating func start(parameters: [Float], now: Double) -> [Action] {
        precondition(parameters.count == configuration.parameterCount)
        globalParameters = parameters
        phase = .registering(deadline: now + configuration.registrationTimeout)
        lastHeartbeat = now
        return []
    }

    public mutating func receive(_ message: Message, from peer: Peer, now: Double) -> [Action] {
        var actions: [Action] = []
        if let index = clientOfPeer[peer], unresponsive.remove(index) != nil {
            actions.append(.clientResponsive(index: index))
        }
        return actions + handle(message, from: peer, now: now)
    }

    private mutating func handle(_ message: Message, from peer: Peer, now: Double) -> [Action] {
        switch message {
        case let .hello(hello): return register(hello, peer: peer, now: now)
        case let .update(update): return accept(update, from: peer, now: now)
        case let .failure(failure): return recordFailure(failure, from: peer, now: now)
        case let .bye(bye):
            if let index = clientOfPeer[peer], index == bye.clientIndex {
                registered[index] = nil
                clientOfPeer[peer] = nil
            }
            return []
        case .heartbeat: return []
        case .welcome, .reject, .task, .shutdown:
            return [.ignored("a client sent \(message.kind), which only the server sends")]
        }
    }

    /// Advance deadlines and heartbeats. Call at least every heartbeat interval.
    public mutating func tick(now: Double) -> [Action] {
        var actions: [Action] = []
        switch phase {
        case let .registering(deadline) where now >= deadline:
            return finish(success: false, reason: "only \(registered.count) of \(configuration.minClientsToStart) required clients registered within \(configuration.registrationTimeout) s")
        case let .training(round, sampled, deadline, received, failures, rejected) where now >= deadline:
            return closeRound(round: round, sampled: sampled, received: received, failures: failures, rejected: rejected)
        default: break
        }
        if now - lastHeartbeat >= configuration.heartbeatInterval, !isFinished {
            lastHeartbeat = now
            for index in registered.keys.sorted() { actions.append(.send(registered[index]!, .heartbeat(Heartbeat()))) }
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

    /// Stop now (signal, fatal server error). SHUTDOWN goes to every registered client.
    public mutating func abort(reason: String) -> [Action] { finish(success: false, reason: reason) }

    // MARK: - Registration

    private mutating func register(_ hello: Hello, peer: Peer, now: Double) -> [Action] {
        if isFinished {
            return [.send(peer, .reject(Reject(reason: "the run is over")))]
        }
        var index: Int
        var rejoined = false
        if let existing = clientOfPeer[peer] {
            index = existing
            rejoined = true
        } else if let wanted = hello.requestedIndex {
            guard (0..<configuration.clients).contains(wanted) else {
                let reason = "client index \(wanted) is outside 0..<\(configuration.clients)"
                return [.clientRefused(name: hello.clientName, reason: reason), .send(peer, .reject(Reject(reason: reason)))]
            }
            index = wanted
            if let previous = registered[wanted] {
                // A restarted client process reclaims its slot from its dead predecessor.
                clientOfPeer[previous] = nil
                rejoined = true
            }
        } else {
            guard let free = (0..<configuration.clients).first(where: { registered[$0] == nil }) else {
                let reason = "all \(configuration.clients) client slots are taken"
                return [.clientRefused(name: hello.clientName, reason: reason), .send(peer, .reject(Reject(reason: reason)))]
            }
            index = free
        }
        registered[index] = peer
        clientOfPeer[peer] = index
        var actions: [Action] = [
            .send(peer, .welcome(Welcome(clientIndex: index, runSpec: configuration.runSpec))),
            .clientJoined(index: index, name: hello.clientName, rejoined: rejoined),
        ]
        if case .registering = phase, registered.count >= configuration.minClientsToStart {
            actions += startRound(1, now: now)
        }
        return actions
    }

    // MARK: - Rounds

    /// Clients for `round`: a seeded sample without replacement from the registered indices,
    /// returned ascending. Depends only on (sampling seed, round, registered set).
    public static func sample(from candidates: [Int], count: Int, seed: UInt64, round: Int) -> [Int] {
        var pool = candidates.sorted()
        let k = min(count, pool.count)
        var rng = RandomStream(seed: seed, purpose: .sampling, index: UInt64(round))
        for i in 0..<k {
            let j = i + rng.nextInt(below: pool.count - i)
            pool.swapAt(i, j)
        }
        return Array(pool[0..<k]).sorted()
    }

    private mutating func startRound(_ round: Int, now: Double) -> [Action] {
        let candidates = registered.keys.filter { !unresponsive.contains($0) }
        let sampled = Self.sample(from: candidates, count: configuration.clientsPerRound,
                                  seed: configuration.samplingSeed, round: round)
        guard !sampled.isEmpty else {
            return finish(success: false, reason: "no responsive clients left at round \(round) (\(unresponsive.count) missed a deadline and went silent)")
        }
        phase = .training(round: round, sampled: sampled, deadline: now + configuration.roundTimeout,
                          received: [:], failures: [:], rejected: [])
        var actions: [Action] = [.roundStarted(round: round, sampled: sampled)]
        let task = Message.task(Task(round: round, parameters: globalParameters, config: configuration.taskConfig))
        for index in sampled { actions.append(.send(registered[index]!, task)) }
        lastHeartbeat = now
        return actions
    }

    private mutating func accept(_ update: Update, from peer: Peer, now: Double) -> [Action] {
        guard case .training(let round, let sampled, let deadline, var received, let failures, var rejected) = phase else {
            return [.ignored("UPDATE for round \(update.round) from client \(update.clientIndex) arrived outside a round")]
        }
        guard let sender = clientOfPeer[peer] else {
            return [.ignored("UPDATE from an unregistered peer claiming client \(update.clientIndex)")]
        }
        guard update.round == round else {
            return [.ignored("stale UPDATE from client \(sender) for round \(update.round) (current round \(round))")]
        }
        guard sampled.contains(sender) else {
            return [.ignored("UPDATE from client \(sender), which was not sampled in round \(round)")]
        }
        guard received[sender] == nil, failures[sender] == nil, !rejected.contains(where: { $0.client == sender }) else {
            return [.ignored("duplicate UPDATE from client \(sender) in round \(round)")]
        }
        if let reason = Self.problem(with: update, sender: sender, parameterCount: configuration.parameterCount) {
            rejected.append(Rejected(client: sender, reason: reason))
        } else {
            received[sender] = update
        }
        phase = .training(round: round, sampled: sampled, deadline: deadline, received: received, failures: failures, rejected: rejected)
        return closeIfComplete(now: now)
    }

    /// Why an update cannot be merged, or nil. This is the edge: nothing past it sees a wrong
    /// shape, a NaN or a bad metric.
    public static func problem(with update: Update, sender: Int, parameterCount: Int) -> String? {
        if update.clientIndex != sender {
            return "claims to be client \(update.clientIndex) but registered as \(sender)"
        }
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

    private mutating func recordFailure(_ failure: Failure, from peer: Peer, now: Double) -> [Action] {
        guard case .training(let round, let sampled, let deadline, let received, var failures, let rejected) = phase,
              let sender = clientOfPeer[peer], failure.round == round, sampled.contains(sender),
              received[sender] == nil, failures[sender] == nil
        else { return [.ignored("FAILURE from \(failure.clientIndex) for round \(failure.round) ignored")] }
        failures[sender] = Failure(round: round, clientIndex: sender, reason: failure.reason)
        phase = .training(round: round, sampled: sampled, deadline: deadline, received: received, failures: failures, rejected: rejected)
        return closeIfComplete(now: now)
    }

    private mutating func closeIfComplete(now: Double) -> [Action] {
        guard case let .training(round, sampled, _, received, failures, rejected) = phase else { return [] }
        if received.count + failures.count + rejected.count == sampled.count {
            return closeRound(round: round, sampled: sampled, received: received, failures: failures, rejected: rejected)
        }
        return []
    }

    private mutating func closeRound(round: Int, sampled: [Int], received: [Int: Update], failures: [Int: Failure], rejected: [Rejected]) -> [Action] {
        let answered = Set(received.keys).union(failures.keys).union(rejected.map(\.client))
        let outcome = RoundOutcome(
            round: round, sampled: sampled,
            updates: received.keys.sorted().map { received[$0]! },
            failures: failures.keys.sorted().map { failures[$0]! },
            rejected: rejected.sorted { $0.client < $1.client },
            timedOut: sampled.filter { !answered.contains($0) })
        phase = .aggregating(round: round)
        unresponsive.formUnion(outcome.timedOut)
        return outcome.timedOut.isEmpty ? [.aggregate(outcome)] : [.clientsUnresponsive(outcome.timedOut), .aggregate(outcome)]
    }

    private mutating func finish(success: Bool, reason: String) -> [Action] {
        if isFinished { return [] }
        phase = .done
        var actions: [Action] = []
        for index in registered.keys.sorted() {
            actions.append(.send(registered[index]!, .shutdown(Shutdown(reason: reason))))
        }
        actions.append(.finished(success: success, reason: reason))
        return actions
    }
}
