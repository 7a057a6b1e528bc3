/// Every message the server and a client exchange. One enum, so a state machine's `switch`
/// is exhaustive and the codec has one place to grow. docs/PROTOCOL.md is the contract.
///
/// Conversation (client = DEALER, server = ROUTER):
///   client → HELLO            server → WELCOME (run spec, client index) | REJECT
///   server → TASK (round k)   client → UPDATE (delta, metrics) | FAILURE (reason)
///   either → HEARTBEAT        server → SHUTDOWN (run over)    client → BYE
public enum Message: Sendable, Equatable {
    case hello(Hello)
    case welcome(Welcome)
    case reject(Reject)
    case task(Task)
    case update(Update)
    case failure(Failure)
    case heartbeat(Heartbeat)
    case shutdown(Shutdown)
    case bye(Bye)

    /// One byte on the wire; values are part of the protocol and never reused.
    public enum Kind: UInt8, Sendable, CaseIterable {
        case hello = 1, welcome = 2, reject = 3, task = 4, update = 5, failure = 6,
             heartbeat = 7, shutdown = 8, bye = 9
    }

    public var kind: Kind {
        switch self {
        case .hello: .hello
        case .welcome: .welcome
        case .reject: .reject
        case .task: .task
        case .update: .update
        case .failure: .failure
        case .heartbeat: .heartbeat
        case .shutdown: .shutdown
        case .bye: .bye
        }
    }
}

/// Wire protocol version carried in every frame header; a peer with another version is rejected.
public let protocolVersion: UInt16 = 1

/// A client asks to join. `requestedIndex` pins the client to a partition (topology-launched
/// clients know theirs); nil lets the server assign the next free one.
public struct Hello: Sendable, Equatable {
    public var clientName: String
    public var requestedIndex: Int?
    public init(clientName: String, requestedIndex: Int?) {
        self.clientName = clientName
        self.requestedIndex = requestedIndex
    }
}

/// The server accepts a client: its partition index and the run specification (JSON bytes of
/// the topology's `RunSpec`; opaque here so the protocol does not depend on data or models).
public struct Welcome: Sendable, Equatable {
    public var clientIndex: Int
    public var runSpec: [UInt8]
    public init(clientIndex: Int, runSpec: [UInt8]) {
        self.clientIndex = clientIndex
        self.runSpec = runSpec
    }
}

public struct Reject: Sendable, Equatable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

/// Train one round. `parameters` is the full global vector (the layout is fixed by the run spec).
/// `config` carries per-round scalars (learning rate, local epochs, …) as Flower's config does.
public struct Task: Sendable, Equatable {
    public var round: Int
    public var parameters: [Float]
    public var config: [String: Double]
    public init(round: Int, parameters: [Float], config: [String: Double]) {
        self.round = round
        self.parameters = parameters
        self.config = config
    }
}

/// A client's answer to TASK: `delta` = local − global, plus its metrics
/// (samples, local_steps, train_loss, adv_loss, …). MWA weighs clients by these.
public struct Update: Sendable, Equatable {
    public var round: Int
    public var clientIndex: Int
    public var samples: Int
    public var metrics: [String: Double]
    public var delta: [Float]
    public init(round: Int, clientIndex: Int, samples: Int, metrics: [String: Double], delta: [Float]) {
        self.round = round
        self.clientIndex = clientIndex
        self.samples = samples
        self.metrics = metrics
        self.delta = delta
    }
}

/// A client could not train this round (bad data, diverged, …); the server logs it and moves on.
public struct Failure: Sendable, Equatable {
    public var round: Int
    public var clientIndex: Int
    public var reason: String
    public init(round: Int, clientIndex: Int, reason: String) {
        self.round = round
        self.clientIndex = clientIndex
        self.reason = reason
    }
}

public struct Heartbeat: Sendable, Equatable {
    public init() {}
}

public struct Shutdown: Sendable, Equatable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

public struct Bye: Sendable, Equatable {
    public var clientIndex: Int
    public init(clientIndex: Int) { self.clientIndex = clientIndex }
}
