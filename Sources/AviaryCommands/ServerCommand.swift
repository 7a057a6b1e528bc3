import ArgumentParser
import Foundation
import Logging
import AviaryServer
import AviaryClient
import AviaryTopology

/// `aviary-server` (also `aviary server`): one federation's server process.
public struct ServerCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run the federation server for a topology (binds, waits for clients, runs the rounds).")

    @Option(name: .shortAndLong, help: "Topology file.")
    var topology: String

    @Option(help: "Override [server].bind, e.g. tcp://*:5555 to accept clients from other machines.")
    var bind: String?

    @Flag(help: "Replace an existing run directory of the same name.")
    var overwrite = false

    public init() {}

    public func run() throws {
        var topo: Topology
        do { topo = try Topology.load(path: topology) } catch { throw fail(error) }
        if let bind { topo.server.bind = bind }
        let logger = Logger(label: "aviary.server")
        installInterruptHandler()
        do {
            let server = try FederatedServer(topology: topo, options: .init(overwrite: overwrite, shouldStop: interrupted), logger: logger)
            let summary = try server.run()
            if !summary.success {
                FileHandle.standardError.write(Data("error: run failed: \(summary.reason)\n".utf8))
                throw ExitCode.failure
            }
            if let e = summary.finalEval {
                print(String(format: "final: accuracy %.4f, loss %.4f after %d rounds", e.cleanAccuracy, e.cleanLoss, summary.roundsCompleted)
                      + (e.robustAccuracy.map { String(format: ", robust accuracy %.4f", $0) } ?? ""))
            }
        } catch let e as ExitCode {
            throw e
        } catch {
            throw fail(error)
        }
    }
}

/// `aviary-client` (also `aviary client`): hosts one or more clients in one process.
public struct ClientCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Run federated clients that connect to a server.")

    @Option(help: "Server endpoint, e.g. tcp://10.0.0.5:5555.")
    var connect: String

    @Option(help: "Client indices to host, comma-separated (e.g. 0,4,8). Default: one client, index assigned by the server.")
    var clients: String?

    @Option(help: "How many server-assigned clients to host when --clients is not given.")
    var count: Int = 1

    @Option(help: "Name shown in the server's log.")
    var name: String = ProcessInfo.processInfo.hostName

    @Option(help: "Seconds of server silence before giving up.")
    var serverTimeout: Double = 120

    public init() {}

    public func validate() throws {
        if let clients {
            for part in clients.split(separator: ",") where Int(part.trimmingCharacters(in: .whitespaces)).map({ $0 < 0 }) ?? true {
                throw ValidationError("--clients: '\(part)' is not a client index; give non-negative integers like 0,4,8")
            }
        }
        guard count >= 1 else { throw ValidationError("--count must be at least 1") }
    }

    public func run() throws {
        let indices: [Int?] = clients.map { $0.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) } }
            ?? Array(repeating: nil, count: count)
        installInterruptHandler()
        let host = ClientHost(options: .init(endpoint: connect, indices: indices, name: name, serverTimeout: serverTimeout,
                                             shouldStop: interrupted),
                              logger: Logger(label: "aviary.client"))
        do { try host.run() } catch { throw fail(error) }
    }
}
