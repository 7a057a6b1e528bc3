import Foundation
import Logging
import AviaryData
import AviaryMath
import AviaryProtocol
import AviaryTopology
import AviaryTransport

/// One OS process hosting one or more federated clients, each with its own DEALER socket and
/// state machine, so the server cannot tell them from clients on separate machines. The data
/// source is loaded once per process and shared. Runs synchronously on the calling thread.
public final class ClientHost {
    public struct Options: Sendable {
        public var endpoint: String
        /// Client indices to host; nil entries ask the server to assign one.
        public var indices: [Int?]
        public var name: String
        public var serverTimeout: Double
        /// Polled between messages and tasks; true makes `run()` throw `HostError.interrupted`.
        public var shouldStop: @Sendable () -> Bool
        public init(endpoint: String, indices: [Int?], name: String, serverTimeout: Double = 120,
                    shouldStop: @escaping @Sendable () -> Bool = { false }) {
            self.endpoint = endpoint; self.indices = indices; self.name = name; self.serverTimeout = serverTimeout
            self.shouldStop = shouldStop
        }
    }

    final class Slot {
        let endpoint: ClientEndpoint
        var machine: ClientStateMachine
        var client: LocalClient?
        var pendingTask: Task?
        init(endpoint: ClientEndpoint, machine: ClientStateMachine) { self.endpoint = endpoint; self.machine = machine }
    }

    let options: Options
    let logger: Logger
    private var dataset: FederatedDataset?
    private var datasetSpec: DataSpec?
    private let start = ContinuousClock.now

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    var now: Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    /// Returns when every hosted client has exited; throws on the first client that cannot go on.
    public func run() throws {
        var slots: [Slot] = []
        for (i, index) in options.indices.enumerated() {
            let name = index.map { "\(options.name)/client-\($0)" } ?? "\(options.name)/\(i)"
            // A stable identity lets a restarted client take over its slot (ROUTER_HANDOVER);
            // server-assigned clients add the pid so two hosts of the same name never collide.
            let identity = index.map { "\(options.name)/\($0)" } ?? "\(options.name)/pid\(getpid())/\(i)"
            let endpoint = try ClientEndpoint(connect: options.endpoint, identity: identity)
            slots.append(Slot(endpoint: endpoint, machine: ClientStateMachine(configuration: .init(
                name: name, requestedIndex: index, helloInterval: 1, serverTimeout: options.serverTimeout))))
        }
        defer { for s in slots { s.endpoint.close() } }
        for s in slots { try perform(s.machine.start(now: now), slot: s) }

        while slots.contains(where: { !$0.machine.isDone }) {
            if options.shouldStop() { throw HostError.interrupted }
            var busy = false
            for s in slots where !s.machine.isDone {
                // Drain what arrived; train at most one task per pass so every socket stays serviced.
                while let received = try s.endpoint.receive(timeout: .zero) {
                    busy = true
                    switch received {
                    case let .success(message): try perform(s.machine.receive(message, now: now), slot: s)
                    case let .failure(error): logger.warning("malformed message from server dropped", metadata: ["error": "\(error)"])
                    }
                    if s.machine.isDone { break }
                }
                if let task = s.pendingTask {
                    s.pendingTask = nil
                    busy = true
                    try runTask(task, slot: s)
                }
                try perform(s.machine.tick(now: now), slot: s)
            }
            if !busy { Thread.sleep(forTimeInterval: 0.002) }
        }
    }

    private func perform(_ actions: [ClientStateMachine.Action], slot: Slot) throws {
        for action in actions {
            switch action {
            case let .send(message):
                try slot.endpoint.send(message)
            case let .configure(index, runSpec):
                slot.client = try makeClient(index: index, runSpec: runSpec)
                logger.info("configured", metadata: ["client": "\(index)", "train": "\(slot.client!.data.train.count)", "test": "\(slot.client!.data.test.count)"])
            case let .train(task):
                slot.pendingTask = task
            case let .exit(success, reason):
                if success {
                    logger.info("finished", metadata: ["client": "\(slot.machine.clientIndex ?? -1)", "reason": "\(reason)"])
                } else {
                    throw HostError.clientStopped(client: slot.machine.clientIndex, reason: reason)
                }
            }
        }
    }

    private func runTask(_ task: Task, slot: Slot) throws {
        guard let client = slot.client else { return }
        let started = ContinuousClock.now
        do {
            let update = try client.train(task)
            logger.info("trained", metadata: ["client": "\(client.index)", "round": "\(task.round)",
                                             "loss": "\(update.metrics["train_loss"] ?? .nan)", "seconds": "\(ContinuousClock.now - started)"])
            try perform(slot.machine.trained(update, now: now), slot: slot)
        } catch {
            logger.error("training failed", metadata: ["client": "\(client.index)", "round": "\(task.round)", "error": "\(error)"])
            try perform(slot.machine.failed(round: task.round, reason: "\(error)", now: now), slot: slot)
        }
    }

    private func makeClient(index: Int, runSpec: [UInt8]) throws -> LocalClient {
        let spec: RunSpec
        do { spec = try JSONDecoder().decode(RunSpec.self, from: Data(runSpec)) } catch {
            throw ClientError.badRunSpec(reason: "\(error)")
        }
        if datasetSpec != spec.data {
            BLAS.setThreads(spec.blasThreads)
            do { dataset = try FederatedDataset(spec: spec.data) } catch {
                throw ClientError.setup(client: index, reason: "\(error)")
            }
            datasetSpec = spec.data
        }
        do { return try LocalClient(index: index, spec: spec, dataset: dataset!) } catch let e as ClientError {
            throw e
        } catch {
            throw ClientError.setup(client: index, reason: "\(error)")
        }
    }
}

public enum HostError: Error, CustomStringConvertible {
    case clientStopped(client: Int?, reason: String)
    case interrupted
    public var description: String {
        switch self {
        case .interrupted: "interrupted by a signal"
        case let .clientStopped(client, reason): "client \(client.map(String.init) ?? "?") stopped: \(reason)"
        }
    }
}
