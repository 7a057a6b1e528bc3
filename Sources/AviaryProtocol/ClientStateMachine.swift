/// One client's protocol logic as a value: HELLO until WELCOME, then TASK → train → UPDATE
/// until SHUTDOWN. It decides when to re-send HELLO and when the server counts as gone; the
/// client loop does the sockets and the training.
public struct ClientStateMachine: Sendable {
    public struct Configuration: Sendable {
        public var name: String
        public var requestedIndex: Int?
        /// Seconds between HELLOs while no WELCOME has arrived (the server may not be up yet).
        public var helloInterval: Double
        /// Seconds of silence from the server after which the client gives up. The server sends
        /// heartbeats while it works, so silence means it is gone.
        public var serverTimeout: Double

        public init(name: String, requestedIndex: Int?, helloInterval: Double = 1, serverTimeout: Double = 60) {
            self.name = name; self.requestedIndex = requestedIndex
            self.helloInterval = helloInterval; self.serverTimeout = serverTimeout
        }
    }

    public enum Action: Sendable, Equatable {
        case send(Message)
        /// Build the local partition and model from the run spec.
        case configure(clientIndex: Int, runSpec: [UInt8])
        /// Train on `task`, then call `trained(_:)` or `failed(round:reason:)`.
        case train(Task)
        case exit(success: Bool, reason: String)
    }

    enum Phase: Sendable, Equatable { case idle, joining, ready, done }

    public let configuration: Configuration
    private(set) var phase: Phase = .idle
    public private(set) var clientIndex: Int?
    private var lastHello: Double = 0
    private var lastHeard: Double = 0

    public init(configuration: Configuration) { self.configuration = configuration }

    public var isDone: Bool { phase == .done }

    public mutating func start(now: Double) -> [Action] {
        phase = .joining
        lastHello = now
        lastHeard = now
        return [.send(hello)]
    }

    private var hello: Message {
        .hello(Hello(clientName: configuration.name, requestedIndex: clientIndex ?? configuration.requestedIndex))
    }

    public mutating func receive(_ message: Message, now: Double) -> [Action] {
        lastHeard = now
        switch (phase, message) {
        case (.joining, .welcome(let w)):
            phase = .ready
            let first = clientIndex == nil
            clientIndex = w.clientIndex
            return first ? [.configure(clientIndex: w.clientIndex, runSpec: w.runSpec)] : []
        case (.joining, .reject(let r)), (.ready, .reject(let r)):
            phase = .done
            return [.exit(success: false, reason: "server refused this client: \(r.reason)")]
        case (.ready, .task(let t)):
            return [.train(t)]
        case (_, .shutdown(let s)):
            let was = phase
            phase = .done
            var actions: [Action] = []
            if was == .ready, let index = clientIndex { actions.append(.send(.bye(Bye(clientIndex: index)))) }
            actions.append(.exit(success: true, reason: s.reason))
            return actions
        case (.ready, .heartbeat):
            // Answer while idle, so the server knows this client is alive between rounds.
            return [.send(.heartbeat(Heartbeat()))]
        case (_, .heartbeat):
            return []
        case (.joining, .task):
            // A task before our WELCOME was processed cannot happen on one DEALER socket
            // (ordered delivery); ignoring it is the safe answer.
            return []
        default:
            return []
        }
    }

    public mutating func trained(_ update: Update, now: Double) -> [Action] {
        lastHeard = now  // training time is not server silence
        return phase == .ready ? [.send(.update(update))] : []
    }

    public mutating func failed(round: Int, reason: String, now: Double) -> [Action] {
        lastHeard = now
        guard phase == .ready, let index = clientIndex else { return [] }
        return [.send(.failure(Failure(round: round, clientIndex: index, reason: reason)))]
    }

    public mutating func tick(now: Double) -> [Action] {
        switch phase {
        case .joining:
            if now - lastHeard >= configuration.serverTimeout {
                phase = .done
                return [.exit(success: false, reason: "no answer from the server within \(Int(configuration.serverTimeout)) s (is it running, and is the address right?)")]
            }
            if now - lastHello >= configuration.helloInterval {
                lastHello = now
                return [.send(hello)]
            }
        case .ready:
            if now - lastHeard >= configuration.serverTimeout {
                phase = .done
                return [.exit(success: false, reason: "the server has been silent for \(Int(configuration.serverTimeout)) s; giving up")]
            }
        case .idle, .done:
            break
        }
        return []
    }
}
