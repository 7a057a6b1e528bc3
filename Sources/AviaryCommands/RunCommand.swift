import ArgumentParser
import Foundation
import AviaryTopology

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a topology: the server and every client as separate processes on this machine.")

    @Argument(help: "Topology file, e.g. topologies/quickstart.toml.")
    var topology: String

    @Flag(help: "Replace an existing run directory of the same name.")
    var overwrite = false

    func run() throws {
        let topo: Topology
        do { topo = try Topology.load(path: topology) } catch { throw fail(error) }
        warnAbout(topo)
        say("aviary: \(topo.name): \(topo.data.clients) clients in \(topo.processes.clientProcesses) processes, \(topo.rounds) rounds, \(topo.merge.strategy.name)")
        installInterruptHandler()
        do {
            try ProcessLauncher(topology: topo, topologyPath: topology, overwrite: overwrite,
                                binDirectory: executableDirectory()).run()
        } catch {
            throw fail(error)
        }
    }
}
