import ArgumentParser
import Foundation
import Logging
import AviaryServer
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
        warnAbout(topo)
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
