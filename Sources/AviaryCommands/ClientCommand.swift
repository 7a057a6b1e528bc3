import ArgumentParser
import Foundation
import Logging
import AviaryClient

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
