import AviaryMath

/// One client process's protocol logic as a value: the process hosts many virtual clients over
/// one connection. It registers them (HELLO until WELCOME), keeps their session tokens (and the
/// token of every claim not accepted yet, presented on each retry), hands
/// TRAIN requests to the host, stamps UPDATEs with tokens, sends heartbeats, and notices a
/// silent server: it then asks the host for a new connection and registers again with back-off
/// (1 s doubling to 32 s, jittered), giving up after `serverTimeout` seconds of silence.
/// The host does the sockets and the training.
public struct ClientStateMachine: Sendable {
    public struct Configuration: Sendable {
        public var processName: String
        /// What to host: pinned indices, or nil entries for server-assigned ones.
        public var claims: [Int?]
        /// Seconds of server silence after which the process gives up.
        public var serverTimeout: Double
        /// Liveness until the server's WELCOME says otherwise.
        public var liveness: LivenessSettings
        public var backoff: ReconnectBackoff
        /// Seeds the back-off jitter (not part of any result).
        public var jitterSeed: UInt64
        /// Seeds the session tokens this process proposes for its pinned claims in its first
        /// HELLO; the host draws it from the system's random source, so the tokens cannot be
        /// predicted. nil: first claims carry no token and the server draws one.
        public var tokenSeed: UInt64?

        public init(processName: String, claims: [Int?], serverTimeout: Double = 120,
                    liveness: LivenessSettings = LivenessSettings(), backoff: ReconnectBackoff = ReconnectBackoff(),
                    jitterSeed: UInt64 = 1, tokenSeed: UInt64? = nil) {
            self.processName = processName; self.claims = claims; self.serverTimeout = serverTimeout
            self.liveness = liveness; self.backoff = backoff; self.jitterSeed = jitterSeed; self.tokenSeed = tokenSeed
        }
    }

    public enum Action: Sendable, Equatable {
        case send(Message)
        /// The first WELCOME: build what the run spec describes (data, model).
        case configure(runSpec: [UInt8])
        /// A WELCOME's verdict on this process's claims, for the log.
        case hosted(accepted: [Int], refused: [WelcomeMessage.Refused])
        /// Keep this round's global model: TRAIN requests for the round start from it.
        case model(ModelMessage)
        /// Train these clients; report each with `trained(_:)` or `failed(...)`.
        case train(TrainMessage)
        /// Evaluate the model of `round` (its MODEL came right before) for these hosted clients;
        /// report each with `evaluated(_:)` (protocol 5).
        case evaluate(EvaluateMessage)
        /// A secure-aggregation stage for a hosted client; answer with `secAggAnswered(_:)`
        /// (protocol 6), or not at all (the server then counts the client as dropped).
        case secAgg(SecAggMessage)
        /// Close the connection and open a new one; the HELLO that follows goes on the new one.
        case reconnect(reason: String)
        /// Registration was renewed after a RESET or reconnect: send again this round's
        /// updates that may have been lost with the old connection. `runSpec` is this WELCOME's:
        /// a restarted server may have resumed its run (the spec's resume history grew) or be
        /// running another one.
        case reregistered(runSpec: [UInt8])
        case exit(success: Bool, reason: String)
    }

    enum Phase: Sendable, Equatable {
        case idle
        /// HELLO sent, waiting for WELCOME; `attempt` counts connections tried since last heard.
        case joining(attempt: Int, retryAt: Double)
        case ready
        case done
    }

    public let configuration: Configuration
    private(set) var phase: Phase = .idle
    /// Hosted client index → its session token.
    public private(set) var tokens: [Int: SessionToken] = [:]
    /// Claims the server has not accepted yet (server-assigned ones stay nil).
    private var pending: [Int?]
    /// Pending pinned claim → the token presented with it: the one proposed at start, or the
    /// one the client held when the server refused it for now (`retry = true`). Kept until the
    /// claim is accepted, so that whichever connection the server bound that token to (an
    /// answer that never arrived, a holder it still thinks live), the next HELLO proves it.
    public private(set) var claimTokens: [Int: SessionToken] = [:]
    private var liveness: LivenessSettings
    private var configured = false
    /// When pending claims are asked for again while the hosted ones already work.
    private var retryAt: Double?
    /// The pinned indices the last HELLO claimed. WELCOME summarises refusals (a count and the
    /// lowest ranges), so the refused ones are those of these it did not accept.
    private var asked: Set<Int> = []
    private var lastHeard: Double = 0
    private var lastSent: Double = 0
    private var jitter: RandomStream

    public init(configuration: Configuration) {
        self.configuration = configuration
        pending = configuration.claims
        liveness = configuration.liveness
        jitter = RandomStream(seed: configuration.jitterSeed, purpose: .other, index: 0xB0FF)
        if let seed = configuration.tokenSeed {
            var stream = RandomStream(seed: seed, purpose: .other, index: 0x70CE)
            for case let index? in configuration.claims where claimTokens[index] == nil {
                var t: SessionToken = 0
                while t == 0 { t = stream.next() }  // 0 means no token
                claimTokens[index] = t
            }
        }
    }

    /// The pending claims as sent: pinned ones with the token kept for them, if any.
    private var pendingClaims: [ClientClaim] {
        pending.map { ClientClaim(index: $0, token: $0.flatMap { claimTokens[$0] } ?? 0) }
    }

    public var isDone: Bool { phase == .done }

    /// Hosted client indices, ascending.
    public var hostedClients: [Int] { tokens.keys.sorted() }

    public mutating func start(now: Double) -> [Action] {
        lastHeard = now
        return sendHello(attempt: 0, now: now)
    }

    private mutating func sendHello(attempt: Int, now: Double) -> [Action] {
        // A new connection only once the server has been silent for as long as liveness calls a
        // peer dead: a busy server (a registration storm, a loaded machine) answers late, and
        // reconnecting sooner would strand the clients it registered on the old connection.
        // ZeroMQ redelivers the queued HELLO itself when the server is merely not up yet.
        let wait = max(liveness.deadAfterSeconds, configuration.backoff.delay(afterAttempt: attempt, unit: jitter.nextDouble()))
        phase = .joining(attempt: attempt, retryAt: now + wait)
        lastSent = now
        // Hosted clients are claimed again with their tokens (after RESET or a reconnect);
        // pending ones with the tokens kept for them.
        let claims = hostedClients.map { ClientClaim(index: $0, token: tokens[$0]!) } + pendingClaims
        asked = Set(claims.compactMap(\.index))
        return [.send(.hello(HelloMessage(processName: configuration.processName, claims: claims)))]
    }

    public mutating func receive(_ message: Message, now: Double) -> [Action] {
        lastHeard = now
        if phase == .done { return [] }
        switch message {
        case let .welcome(w):
            return welcome(w, now: now)
        case let .reject(r):
            phase = .done
            return [.exit(success: false, reason: "the server refused this process: \(r.reason)")]
        case .reset:
            // The server restarted or dropped us: register again on the same connection.
            return sendHello(attempt: 0, now: now)
        case let .model(m):
            return phase == .ready ? [.model(m)] : []
        case let .train(t):
            guard phase == .ready else { return [] }
            let mine = t.clients.filter { tokens[$0] != nil }
            return mine.isEmpty ? [] : [.train(TrainMessage(round: t.round, clients: mine, config: t.config))]
        case let .shutdown(s):
            phase = .done
            var actions: [Action] = []
            if !tokens.isEmpty { actions.append(.send(.bye(ByeMessage(clients: hostedClients)))) }
            actions.append(.exit(success: true, reason: s.reason))
            return actions
        case .heartbeat:
            return []
        case .hello, .update, .failure, .bye, .evalResult, .secAggReply:
            return []
        case let .secAgg(m):
            guard phase == .ready, tokens[m.clientIndex] != nil else { return [] }
            return [.secAgg(m)]
        case let .evaluate(e):
            // An evaluator's EVALUATE names no client; a trainer process answers for its own.
            guard phase == .ready else { return [] }
            let mine = e.clients.filter { tokens[$0] != nil }
            return mine.isEmpty ? [] : [.evaluate(EvaluateMessage(round: e.round, clients: mine, config: e.config))]
        }
    }

    private mutating func welcome(_ w: WelcomeMessage, now: Double) -> [Action] {
        let attempt: Int
        switch phase {
        case let .joining(a, _): attempt = a
        case .ready where !pending.isEmpty: attempt = 0  // the answer to a retry of pending claims
        default: return []  // a duplicate WELCOME (repeated HELLO)
        }
        liveness = LivenessSettings(heartbeatIntervalSeconds: w.heartbeatInterval, missedHeartbeats: w.liveness)
        let pendingPinned = Set(pending.compactMap { $0 })
        var assigned = pending.count - pendingPinned.count
        // Every pinned claim of the HELLO this answers that it does not accept was refused.
        var pinned = asked.union(pendingPinned)
        var acceptedNew: [Int] = []
        for a in w.accepted {
            let wasHosted = tokens[a.index] != nil
            tokens[a.index] = a.token
            claimTokens[a.index] = nil
            if pinned.remove(a.index) != nil || wasHosted { if !wasHosted { acceptedNew.append(a.index) }; continue }
            acceptedNew.append(a.index)
            assigned = max(0, assigned - 1)  // a server-assigned claim was granted
        }
        // A claim the server refuses for good ends the process: a host that cannot host what it
        // was asked to is misconfigured, and carrying on would silently change the federation.
        // Refusals come summarised per reason (a count and the lowest ranges), so the pinned
        // claims refused are those the HELLO asked for and the WELCOME did not accept.
        if let fatal = w.refused.first(where: { !$0.retry }) {
            phase = .done
            // A token refused for good proves nothing any more.
            for i in pinned { tokens[i] = nil; claimTokens[i] = nil }
            return [.hosted(accepted: acceptedNew.sorted(), refused: w.refused),
                    .exit(success: false, reason: "the server refused \(fatal)")]
        }
        // Refused for now (the slot's holder may still be alive): ask again after the back-off,
        // presenting the token this process held for it. The server hands the slot back to that
        // token as soon as it holds it, or frees it; dropping the token would leave the claim
        // waiting for the server's liveness to drop a connection that may be this process's own.
        for i in pinned {
            if let held = tokens.removeValue(forKey: i) { claimTokens[i] = held }
        }
        pending = pinned.sorted().map { Optional($0) } + Array(repeating: nil, count: assigned)
        var actions: [Action] = [.hosted(accepted: acceptedNew.sorted(), refused: w.refused)]
        let first = !configured
        if first, !tokens.isEmpty {
            configured = true
            actions.append(.configure(runSpec: w.runSpec))
        }
        if pending.isEmpty || !tokens.isEmpty {
            phase = .ready
            retryAt = pending.isEmpty ? nil : now + configuration.backoff.delay(afterAttempt: attempt, unit: jitter.nextDouble())
            if !first { actions.append(.reregistered(runSpec: w.runSpec)) }
        } else {
            phase = .joining(attempt: attempt, retryAt: now + configuration.backoff.delay(afterAttempt: attempt, unit: jitter.nextDouble()))
        }
        return actions
    }

    /// A hosted client finished training: its UPDATE, stamped with the client's token.
    public mutating func trained(_ update: UpdateMessage, now: Double) -> [Action] {
        guard phase != .done, let token = tokens[update.clientIndex] else { return [] }
        var u = update
        u.token = token
        lastSent = now
        return [.send(.update(u))]
    }

    /// A hosted client's answer to a secure-aggregation stage, stamped with its token.
    public mutating func secAggAnswered(_ reply: SecAggReplyMessage, now: Double) -> [Action] {
        guard phase != .done, let token = tokens[reply.clientIndex] else { return [] }
        var r = reply
        r.token = token
        lastSent = now
        return [.send(.secAggReply(r))]
    }

    /// A hosted client finished evaluating: its EVAL_RESULT, stamped with the client's token.
    public mutating func evaluated(_ result: EvalResultMessage, now: Double) -> [Action] {
        guard phase != .done, let token = tokens[result.clientIndex] else { return [] }
        var r = result
        r.token = token
        lastSent = now
        return [.send(.evalResult(r))]
    }

    public mutating func failed(round: Int, client: Int, reason: String, now: Double) -> [Action] {
        guard phase != .done, let token = tokens[client] else { return [] }
        lastSent = now
        return [.send(.failure(FailureMessage(round: round, clientIndex: client, token: token, reason: reason)))]
    }

    /// The process is stopping (signal): say goodbye so the server drops its clients at once.
    public mutating func stop(reason: String) -> [Action] {
        guard phase != .done else { return [] }
        phase = .done
        var actions: [Action] = []
        if !tokens.isEmpty { actions.append(.send(.bye(ByeMessage(clients: hostedClients)))) }
        actions.append(.exit(success: false, reason: reason))
        return actions
    }

    public mutating func tick(now: Double) -> [Action] {
        let silence = now - lastHeard
        switch phase {
        case .idle, .done:
            return []
        case let .joining(attempt, retryAt):
            if silence >= configuration.serverTimeout {
                phase = .done
                return [.exit(success: false, reason: "no answer from the server for \(formatSeconds(configuration.serverTimeout)) s (is it running, is the address right, and do both sides use CURVE or neither?)")]
            }
            if now >= retryAt {
                return [.reconnect(reason: "no WELCOME yet (attempt \(attempt + 1))")] + sendHello(attempt: attempt + 1, now: now)
            }
            if !tokens.isEmpty, now - lastSent >= liveness.heartbeatIntervalSeconds {
                lastSent = now
                return [.send(.heartbeat)]
            }
            return []
        case .ready:
            if silence >= configuration.serverTimeout {
                phase = .done
                return [.exit(success: false, reason: "the server has been silent for \(formatSeconds(configuration.serverTimeout)) s; giving up")]
            }
            if silence > liveness.deadAfterSeconds {
                return [.reconnect(reason: "the server has been silent for \(formatSeconds(silence.rounded())) s")] + sendHello(attempt: 0, now: now)
            }
            if let at = retryAt, now >= at {
                retryAt = now + configuration.backoff.maximumSeconds
                lastSent = now
                let claims = pendingClaims
                asked = Set(claims.compactMap(\.index))
                return [.send(.hello(HelloMessage(processName: configuration.processName, claims: claims)))]
            }
            if now - lastSent >= liveness.heartbeatIntervalSeconds {
                lastSent = now
                return [.send(.heartbeat)]
            }
            return []
        }
    }
}
