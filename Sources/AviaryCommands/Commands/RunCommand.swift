import ArgumentParser
import Foundation
import AviaryReport
import AviaryTopology

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a topology: the server and every client as separate processes on this machine.",
        discussion: """
        Each run gets a fresh directory: if runs/<name> exists, the run goes to runs/<name>-2, -3, …
        (it says where). --overwrite replaces runs/<name>; --resume continues a run in its directory.
        """)

    @Argument(help: "Topology file, e.g. topologies/quickstart.toml (not with --resume).")
    var topology: String?

    @Option(help: "Run name: the directory under [run].output (default: the topology's [run].name).")
    var name: String?

    @Flag(help: "Replace an existing run directory of the same name.")
    var overwrite = false

    @OptionGroup var set: OverrideOptions


    @Option(help: ArgumentHelp("Continue the run in this directory (e.g. runs/quickstart) from its topology.toml.",
                               valueName: "run-directory"))
    var resume: String?

    func validate() throws {
        if resume != nil {
            guard topology == nil, name == nil, !overwrite, set.overrides.isEmpty else {
                throw ValidationError("--resume takes the topology and name from the run directory; give no topology file, --name, --set or --overwrite with it")
            }
        } else if topology == nil {
            throw ValidationError("Name a topology file (e.g. `aviary run topologies/quickstart.toml`) or a run to continue with --resume runs/<name>.")
        }
    }

    /// The topology to run and how to treat its directory. Claims a fresh directory unless
    /// --overwrite or --resume says otherwise; never opens an existing run's files.
    private func placement() throws -> (Topology, ProcessLauncher.Mode) {
        if let resume { return (try RunPlacement.resumable(resume), .resume) }
        let path = topology!
        var topo = try Topology.load(path: path, overrides: set.overrides)
        if topo.model.kind == .external, topo.processes.totalClientProcesses == 0 {
            throw LaunchError.nothingToLaunch(file: path)
        }
        if let name {
            try RunPlacement.checkName(name)
            topo.name = name
        }
        if overwrite { return (topo, .overwrite(topologyPath: path)) }
        let wanted = topo.name
        topo.name = try RunPlacement.claimFresh(output: topo.output, name: wanted)
        if topo.name != wanted {
            say("aviary: \(topo.output)/\(wanted) exists; this run goes to \(topo.output)/\(topo.name) (--overwrite replaces it, --resume continues it)")
        }
        return (topo, .fresh(topologyPath: path))
    }

    func run() throws {
        let topo: Topology
        let mode: ProcessLauncher.Mode
        do { (topo, mode) = try placement() } catch { throw fail(error) }
        warnAbout(topo)
        let verb = resume == nil ? "" : "resuming "
        say("aviary: \(verb)\(topo.name): \(plural(topo.data.clients, "client")) in \(plural(topo.processes.totalClientProcesses, "process", "processes")), "
            + "\(plural(topo.rounds, "round")), \(topo.merge.strategy.name)")
        if topo.attackers.isActive {
            say("aviary: attackers (\(topo.attackers.attack.summary)): clients \(ClientSet.compact(topo.attackers.clients)), in their own client process")
        }
        installInterruptHandler()
        let started = Date()
        var launcher = ProcessLauncher(topology: topo, mode: mode, binDirectory: executableDirectory())
        launcher.overrides = set.overrides
        let outcome: ProcessLauncher.Outcome
        do { outcome = try launcher.run() } catch { throw fail(error) }
        for s in outcome.stragglers { FileHandle.standardError.write(Data("warning: \(s)\n".utf8)) }
        if let memory = outcome.memory.summary { say(memory) }
        let dir = launcher.directory.path
        say("run complete: \(dir)")
        for line in RunSummary.lines(logPath: launcher.directory.log, wallSeconds: Date().timeIntervalSince(started), runDirectory: dir) {
            say("  " + line)
        }
        if !outcome.lost.isEmpty {
            FileHandle.standardError.write(Data(("error: \(plural(outcome.lost.count, "client process", "client processes")) "
                + "\(outcome.lost.count == 1 ? "was" : "were") lost:\n  " + outcome.lost.joined(separator: "\n  ") + "\n").utf8))
            throw ExitCode.failure
        }
    }
}
