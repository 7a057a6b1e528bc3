/// Every message the server and a client process exchange. One enum, so a state machine's
/// `switch` is exhaustive and the codec has one place to grow. docs/PROTOCOL.md is the contract.
///
/// A client *process* holds one connection and hosts any number of virtual clients; messages
/// that concern one client name its index (and, from the client, its session token).
///
///   process → HELLO (claims)          server → WELCOME (accepted, refused, run spec) | REJECT
///   server  → MODEL (round k, once per process)  server → TRAIN (round k, which hosted clients)
///   process → UPDATE / FAILURE (one per trained client)
///   either  → HEARTBEAT               server → RESET (unknown connection: register again)
///   server  → SHUTDOWN (run over)     process → BYE
///   server  → EVALUATE (round k, which hosted clients; after that round's MODEL)
///   process → EVAL_RESULT (one per evaluating client, or one from the evaluator)
public enum Message: Sendable, Equatable {
    case hello(HelloMessage)
    case welcome(WelcomeMessage)
    case reject(RejectMessage)
    case train(TrainMessage)
    case update(UpdateMessage)
    case failure(FailureMessage)
    case heartbeat
    case shutdown(ShutdownMessage)
    case bye(ByeMessage)
    case model(ModelMessage)
    case reset(ResetMessage)
    case evaluate(EvaluateMessage)
    case evalResult(EvalResultMessage)
    /// Protocol 6: a secure-aggregation stage request to one client (docs/PROTOCOL.md section 8).
    case secAgg(SecAggMessage)
    /// Protocol 6: one client's answer to a secure-aggregation stage.
    case secAggReply(SecAggReplyMessage)

    /// One byte on the wire; values are part of the protocol and never reused.
    /// (Version 1's TASK, kind 4, carried the model per client; version 2 splits it into MODEL
    /// and TRAIN, and kind 4 is TRAIN.)
    public enum Kind: UInt8, Sendable, CaseIterable {
        case hello = 1, welcome = 2, reject = 3, train = 4, update = 5, failure = 6,
             heartbeat = 7, shutdown = 8, bye = 9, model = 10, reset = 11,
             evaluate = 12, evalResult = 13, secAgg = 14, secAggReply = 15
    }

    public var kind: Kind {
        switch self {
        case .hello: .hello
        case .welcome: .welcome
        case .reject: .reject
        case .train: .train
        case .update: .update
        case .failure: .failure
        case .heartbeat: .heartbeat
        case .shutdown: .shutdown
        case .bye: .bye
        case .model: .model
        case .reset: .reset
        case .evaluate: .evaluate
        case .evalResult: .evalResult
        case .secAgg: .secAgg
        case .secAggReply: .secAggReply
        }
    }
}

/// Wire protocol version carried in every frame header; a peer with another version is rejected.
/// Version 2: one connection per client process (clients named by index in every message),
/// the model sent once per process per round, session tokens, RESET.
/// Version 3: UPDATE carries its delta in the run's encoding (f32, f16, int8, top-k) behind a tag.
/// Version 4: WELCOME summarises refused claims per reason (a count and the lowest index ranges),
/// so its size no longer grows with the number of bad claims.
/// Version 5: HELLO carries the process's role (trainer or evaluator); EVALUATE and EVAL_RESULT
/// carry federated and centralised evaluation of a round's MODEL.
/// Version 6: SECAGG and SECAGG_REPLY carry the stages of secure aggregation (SecAgg+).
public let protocolVersion: UInt16 = 7

/// A session token: issued by the server in WELCOME for one client index, presented by the
/// process in every later message about that client and in the HELLO that re-registers it after
/// a reconnect. 0 means "none". It tells a reconnecting process from a stranger claiming a live
/// client's slot; it is not a cryptographic credential (CURVE is the answer to eavesdroppers).
public typealias SessionToken = UInt64

/// One client a process asks to host: a pinned index (nil: the server assigns the lowest free
/// one) and, when re-registering, the token the server issued for it.
public struct ClientClaim: Sendable, Equatable, Hashable {
    public var index: Int?
    public var token: SessionToken
    public init(index: Int?, token: SessionToken = 0) { self.index = index; self.token = token }
}

/// What a connecting process is for (protocol version 5, one byte in HELLO).
public enum ProcessRole: UInt8, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// Hosts clients that train (and, with federated evaluation, evaluate on their held-out split).
    case trainer = 0
    /// Hosts no client: receives the global model on evaluation rounds and reports metrics on the
    /// centralised test set (its HELLO has no claims; its WELCOME accepts index −1 with a token).
    case evaluator = 1

    public var description: String { self == .trainer ? "trainer" : "evaluator" }
}

/// A process asks to host `claims`. Sent on connect and again after RESET or a reconnect.
/// An evaluator asks for no client (`claims` empty) and is accepted as index −1.
public struct HelloMessage: Sendable, Equatable {
    public var processName: String
    public var role: ProcessRole
    public var claims: [ClientClaim]
    public init(processName: String, role: ProcessRole = .trainer, claims: [ClientClaim]) {
        self.processName = processName
        self.role = role
        self.claims = claims
    }
}

/// The server's answer to HELLO: which claims it accepted (index + token), which it refused and
/// why, the run specification (JSON of the topology's `RunSpec`, opaque to the protocol) and the
/// liveness settings both sides use.
public struct WelcomeMessage: Sendable, Equatable {
    public struct Accepted: Sendable, Equatable {
        public var index: Int
        public var token: SessionToken
        public init(index: Int, token: SessionToken) { self.index = index; self.token = token }
    }
    /// Claims refused for one reason (protocol version 4): a HELLO with 61,000 bad claims gets
    /// one entry per reason, never one per claim, so the answer stays small whatever was asked.
    public struct Refused: Sendable, Equatable, CustomStringConvertible {
        /// At most this many ranges of indices are listed per entry; `claims` counts them all.
        public static let maxRanges = 8
        /// Why, the same for every claim of the entry (it names no single client). A decoded
        /// entry carries `.stated`: the wire holds the rendered sentence only.
        public var reason: RefusalReason
        /// True when asking again later may succeed (e.g. the slot's holder may be dead): the
        /// reason's own `retry` when the server builds the entry, the wire's flag when decoded.
        public var retry: Bool
        /// How many claims were refused for this reason, pinned and server-assigned.
        public var claims: Int
        /// The lowest pinned indices refused for this reason, as ascending disjoint ranges, at
        /// most `maxRanges` of them; the others are only counted in `claims`.
        public var indices: [ClosedRange<Int>]
        public init(reason: RefusalReason, retry: Bool? = nil, claims: Int, indices: [ClosedRange<Int>]) {
            self.reason = reason; self.retry = retry ?? reason.retry; self.claims = claims; self.indices = indices
        }

        /// "client 7: reason", "clients 3-5,9 (4 claims): reason", "clients 10,12,…
        /// (61000 claims): reason", "2 claims, server-assigned: reason".
        public var description: String {
            // Saturating: a peer's ranges may span all of Int (`(0...Int.max).count` traps).
            let listed = indices.reduce(0) { sum, r in
                let (span, o1) = r.upperBound.subtractingReportingOverflow(r.lowerBound)
                let (total, o2) = sum.addingReportingOverflow(span)
                return o1 || o2 || total == .max ? .max : total + 1
            }
            let count = "\(claims) \(claims == 1 ? "claim" : "claims")"
            guard !indices.isEmpty else { return "\(count), server-assigned: \(reason)" }
            let shown = indices.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
                .joined(separator: ",")
            if claims == 1 && listed == 1 { return "client \(shown): \(reason)" }
            return "clients \(shown)\(claims > listed ? ",…" : "") (\(count)): \(reason)"
        }
    }
    public var accepted: [Accepted]
    public var refused: [Refused]
    public var heartbeatInterval: Double
    public var liveness: Int
    public var runSpec: [UInt8]
    public init(accepted: [Accepted], refused: [Refused], heartbeatInterval: Double, liveness: Int, runSpec: [UInt8]) {
        self.accepted = accepted; self.refused = refused
        self.heartbeatInterval = heartbeatInterval; self.liveness = liveness; self.runSpec = runSpec
    }
}

/// The whole process is refused (wrong protocol version, run over).
public struct RejectMessage: Sendable, Equatable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

/// The global model of round `round`, sent once per process per round before its TRAIN.
public struct ModelMessage: Sendable, Equatable {
    public var round: Int
    public var parameters: [Float]
    public init(round: Int, parameters: [Float]) { self.round = round; self.parameters = parameters }
}

/// Train these hosted clients in `round`, starting from that round's MODEL. `config` carries
/// per-round scalars (learning rate, local epochs, …) as Flower's config does.
public struct TrainMessage: Sendable, Equatable {
    public var round: Int
    public var clients: [Int]
    public var config: [String: Double]
    public init(round: Int, clients: [Int], config: [String: Double]) {
        self.round = round; self.clients = clients; self.config = config
    }
}

/// One client's answer to TRAIN: delta = local − global in the run's encoding, plus its metrics
/// (local_steps, train_loss, adv_loss, …). MWA weighs clients by these.
public struct UpdateMessage: Sendable, Equatable {
    public var round: Int
    public var clientIndex: Int
    public var token: SessionToken
    public var samples: Int
    public var metrics: [String: Double]
    /// The delta as it travels (docs/PROTOCOL.md, "Delta encodings").
    public var payload: DeltaPayload
    public init(round: Int, clientIndex: Int, token: SessionToken = 0, samples: Int, metrics: [String: Double], delta: [Float]) {
        self.init(round: round, clientIndex: clientIndex, token: token, samples: samples, metrics: metrics, payload: .f32(delta))
    }
    public init(round: Int, clientIndex: Int, token: SessionToken = 0, samples: Int, metrics: [String: Double], payload: DeltaPayload) {
        self.round = round; self.clientIndex = clientIndex; self.token = token
        self.samples = samples; self.metrics = metrics; self.payload = payload
    }
}

/// A client could not train this round (bad data, diverged, …); the server logs it and moves on.
public struct FailureMessage: Sendable, Equatable {
    public var round: Int
    public var clientIndex: Int
    public var token: SessionToken
    public var reason: String
    public init(round: Int, clientIndex: Int, token: SessionToken = 0, reason: String) {
        self.round = round; self.clientIndex = clientIndex; self.token = token; self.reason = reason
    }
}

public struct ShutdownMessage: Sendable, Equatable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

/// The process leaves; its clients are unregistered.
public struct ByeMessage: Sendable, Equatable {
    public var clients: [Int]
    public init(clients: [Int]) { self.clients = clients }
}

/// "I do not know this connection": the server restarted, or dropped the process as dead.
/// The process answers with a HELLO presenting its tokens.
public struct ResetMessage: Sendable, Equatable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

/// Evaluate the parameters of `MODEL(round)` (sent to this process right before): the global
/// model after round `round − 1`'s merge; `MODEL(R + 1)` is the final model. `clients` are the
/// hosted clients that evaluate on their own held-out split; empty for the evaluator, which
/// evaluates on the centralised test set. `config` carries per-round scalars as TRAIN's does.
public struct EvaluateMessage: Sendable, Equatable {
    public var round: Int
    public var clients: [Int]
    public var config: [String: Double]
    public init(round: Int, clients: [Int], config: [String: Double] = [:]) {
        self.round = round; self.clients = clients; self.config = config
    }
}

/// One evaluation's answer to EVALUATE. `clientIndex` −1 (with the evaluator's token) comes from
/// the evaluator. `error` is empty on success; otherwise `samples` is 0, `metrics` is empty and
/// `error` says what failed. Metric keys: `loss`, `accuracy`, and with a robust evaluation in the
/// run spec `robust_loss`, `robust_accuracy` (docs/PROTOCOL.md lists the rest).
public struct EvalResultMessage: Sendable, Equatable {
    /// The client index an evaluator's result carries.
    public static let evaluatorIndex = -1
    public var round: Int
    public var clientIndex: Int
    public var token: SessionToken
    public var samples: Int
    public var metrics: [String: Double]
    public var error: String
    public init(round: Int, clientIndex: Int, token: SessionToken = 0, samples: Int, metrics: [String: Double], error: String = "") {
        self.round = round; self.clientIndex = clientIndex; self.token = token
        self.samples = samples; self.metrics = metrics; self.error = error
    }
}

/// A secure-aggregation stage request (protocol 6): `stage` 1–4 (advertise keys, share keys,
/// masked input, unmasking) and its body, whose bytes `AviarySecAgg.SecAggBodyCodec` reads
/// (docs/PROTOCOL.md section 8). The frame codec checks the envelope and the stage byte.
public struct SecAggMessage: Sendable, Equatable {
    public var round: Int
    public var clientIndex: Int
    public var stage: UInt8
    public var body: [UInt8]
    public init(round: Int, clientIndex: Int, stage: UInt8, body: [UInt8]) {
        self.round = round; self.clientIndex = clientIndex; self.stage = stage; self.body = body
    }
}

/// A client's answer to a secure-aggregation stage, authenticated like an UPDATE by its token.
public struct SecAggReplyMessage: Sendable, Equatable {
    public var round: Int
    public var clientIndex: Int
    public var token: SessionToken
    public var stage: UInt8
    public var body: [UInt8]
    public init(round: Int, clientIndex: Int, token: SessionToken = 0, stage: UInt8, body: [UInt8]) {
        self.round = round; self.clientIndex = clientIndex; self.token = token; self.stage = stage; self.body = body
    }
}
