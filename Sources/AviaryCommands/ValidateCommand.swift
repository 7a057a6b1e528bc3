import ArgumentParser
import AviaryTopology

/// `aviary validate <topology…>`: parse and check topologies without running anything.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate", abstract: "Check topology files: syntax, keys, ranges.")

    @Argument(help: "Topology files.")
    var topologies: [String]

    func run() throws {
        var bad = 0
        for path in topologies {
            do {
                let t = try Topology.load(path: path)
                print("ok  \(path): \(t.name), \(plural(t.data.clients, "client")), \(plural(t.rounds, "round")), \(t.merge.strategy.name)")
            } catch {
                bad += 1
                print("bad \(error)")
            }
        }
        if bad > 0 { throw ExitCode.failure }
    }
}
