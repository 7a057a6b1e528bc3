/// Why the server's state machine ignored a message. Each case carries its context and knows
/// its `category`, the stable name the server counts per connection and logs once per round
/// (never one line per message); `description` is the example sentence beside the count.
public enum IgnoredMessage: Sendable, Equatable, CustomStringConvertible {
    /// A client process sent a message only the server sends.
    case serverOnly(Message.Kind)
    /// A message from a connection that is not registered (answered with RESET).
    case unregistered
    /// An UPDATE or FAILURE that names a client this connection may not speak for.
    case unauthenticated(Message.Kind, AuthenticationProblem)
    /// An UPDATE that arrived while no round was training.
    case betweenRounds(client: Int, round: Int)
    /// An UPDATE for another round than the current one.
    case staleUpdate(client: Int, round: Int, current: Int)
    /// A second UPDATE from a client in one round.
    case duplicateUpdate(client: Int, round: Int)
    /// An UPDATE from a client that was not sampled this round.
    case notSampled(client: Int, round: Int)
    /// A FAILURE that answers no pending task.
    case failureNotPending(client: Int, round: Int)
    /// An EVAL_RESULT that answers no pending EVALUATE (not asked, another round, a duplicate).
    case evalResultNotPending(client: Int, round: Int)
    /// A SECAGG_REPLY while no secure-aggregation stage is pending (protocol 6).
    case secAggNotRunning(client: Int, round: Int)

    public enum AuthenticationProblem: Sendable, Equatable {
        case outOfRange(client: Int, clients: Int)
        case notHosted(client: Int)
        case wrongToken(client: Int)
        /// The evaluator's index (−1) from a connection that is not the evaluator.
        case notEvaluator
    }

    public var category: String {
        switch self {
        case .serverOnly: "server-only message"
        case .unregistered: "message from an unregistered connection"
        case let .unauthenticated(kind, problem):
            switch problem {
            case .outOfRange: "\(kind.name) naming a client out of range"
            case .notHosted: "\(kind.name) for a client not hosted"
            case .wrongToken: "\(kind.name) with a wrong session token"
            case .notEvaluator: "\(kind.name) for the evaluator from another connection"
            }
        case .betweenRounds: "UPDATE between rounds"
        case .staleUpdate: "stale UPDATE"
        case .duplicateUpdate: "duplicate UPDATE"
        case .notSampled: "UPDATE from an unsampled client"
        case .failureNotPending: "FAILURE for no pending task"
        case .evalResultNotPending: "EVAL_RESULT for no pending evaluation"
        case .secAggNotRunning: "SECAGG_REPLY for no pending secure-aggregation stage"
        }
    }

    public var description: String {
        switch self {
        case let .serverOnly(kind): "sent \(kind), which only the server sends"
        case .unregistered: "message from an unregistered connection (answered with RESET)"
        case let .unauthenticated(kind, problem):
            switch problem {
            case let .outOfRange(client, clients): "\(kind.name) names client \(client), outside 0..<\(clients)"
            case let .notHosted(client): "\(kind.name) names client \(client), which this connection does not host"
            case let .wrongToken(client): "\(kind.name) carries the wrong session token for client \(client)"
            case .notEvaluator: "\(kind.name) names the evaluator (client −1), but this connection is not the evaluator"
            }
        case let .betweenRounds(client, round): "UPDATE for round \(round) from client \(client) arrived between rounds"
        case let .staleUpdate(client, round, current): "stale UPDATE from client \(client) for round \(round) (current round \(current))"
        case let .duplicateUpdate(client, round): "duplicate UPDATE from client \(client) in round \(round)"
        case let .notSampled(client, round): "UPDATE from client \(client), which was not sampled in round \(round)"
        case let .failureNotPending(client, round): "FAILURE from client \(client) for round \(round) is not for a pending task"
        case let .evalResultNotPending(client, round): "EVAL_RESULT from client \(client) for round \(round) answers no pending EVALUATE"
        case let .secAggNotRunning(client, round): "SECAGG_REPLY from client \(client) for round \(round) answers no secure-aggregation stage"
        }
    }
}

extension Message.Kind {
    /// The kind as docs/PROTOCOL.md spells it: "UPDATE", "HELLO", …
    public var name: String { "\(self)".uppercased() }
}
