import ArgumentParser
import Foundation
import AviaryReport
import Logging
import AviaryLog
import AviaryServer
import AviaryTopology
import AviaryTransport

/// `aviary-server` (also `aviary server`): one federation's server process.
public struct ServerCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: standaloneName("aviary-server", subcommand: "server"),
        abstract: "Run the federation server for a topology (binds, waits for clients, runs the rounds).",
        discussion: """
        Like `aviary run`, each run gets a fresh directory: if runs/<name> exists, the run goes to
        runs/<name>-2, -3, … (it says where). --overwrite replaces runs/<name>; --resume continues a run.
        A server that cannot start (bind failed, dataset missing) leaves no run directory behind.
        """,
        version: BuildInfo.versionLine)

    @Option(name: .shortAndLong, help: "Topology file (not with --resume).")
    var topology: String?

    @Option(help: "Run name: the directory under [run].output (default: the topology's [run].name).")
    var name: String?

    @Option(help: "Override [server].bind, e.g. tcp://*:5555 to accept clients from other machines.")
    var bind: String?

    @Flag(help: "Replace an existing run directory of the same name (default: a fresh runs/<name>-2, -3, …).")
    var overwrite = false

    /// `aviary run` has claimed runs/<name> for this server already (an empty directory).
    @Flag(help: .hidden)
    var claimed = false

    @Option(help: ArgumentHelp("CURVE: this server's secret key file (aviary keygen); with --allow, encrypts and authenticates every connection.",
                               valueName: "file"))
    var curveSecret: String?

    @Option(help: ArgumentHelp("CURVE: the allow-list of client public keys (one per line, optionally bound to client indices).",
                               valueName: "file"))
    var allow: String?

    @OptionGroup var set: OverrideOptions


    @Option(help: ArgumentHelp("Continue the run in this directory (e.g. runs/quickstart), from its topology.toml.",
                               valueName: "run-directory"))
    var resume: String?

    public init() {}

    public func validate() throws {
        if resume != nil {
            guard topology == nil, name == nil, !overwrite, set.overrides.isEmpty else {
                throw ValidationError("--resume takes the topology and name from the run directory; give no --topology, --name, --set or --overwrite with it")
            }
        } else if topology == nil {
            throw ValidationError("Give --topology <file>, or --resume <run directory>.")
        }
        if (curveSecret == nil) != (allow == nil) {
            throw ValidationError("--curve-secret and --allow go together: the server's secret key and the client keys it accepts")
        }
        if let bind, let expected = Topology.bindProblem(bind) {
            throw ValidationError("--bind \(bind): expected \(expected)")
        }
    }

    public func run() throws {
        dieWithLauncher()
        var topo: Topology
        do {
            if let resume {
                topo = try RunPlacement.resumable(resume)
            } else {
                topo = try Topology.load(path: topology!, overrides: set.overrides)
                if let name {
                    try RunPlacement.checkName(name)
                    topo.name = name
                }
            }
        } catch { throw fail(error) }
        // A fresh directory unless told otherwise, as `aviary run` does: hand-started clients
        // would otherwise wait minutes for a server that exited at once on an existing name.
        // Under `aviary run` (--claimed) the launcher removes an unstarted directory itself,
        // after reading the server's log in it.
        var claimedHere = false
        if resume == nil && !overwrite && !claimed {
            let wanted = topo.name
            do { topo.name = try RunPlacement.claimFresh(output: topo.output, name: wanted) } catch { throw fail(error) }
            claimedHere = true
            if topo.name != wanted {
                FileHandle.standardError.write(Data(("aviary-server: \(topo.output)/\(wanted) exists; this run goes to \(topo.output)/\(topo.name) "
                    + "(--overwrite replaces it, --resume continues it)\n").utf8))
            }
        }
        let directory = RunDirectory(path: topo.output + "/" + topo.name)
        // Nothing started (bad keys, dataset missing, bind failed): the claimed name is free again.
        func release() { if claimedHere { RunPlacement.releaseUnstarted(directory) } }
        warnAbout(topo)
        if let bind { topo.server.bind = bind }
        let security: ServerSecurity
        do { security = try CurveOptions.server(topology: topo, curveSecret: curveSecret, allow: allow) } catch { release(); throw fail(error) }
        if let warning = CurveOptions.plaintextWarning(bind: topo.server.bind, security: security) {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        let logger = Logger(label: "aviary.server")
        installInterruptHandler()
        do {
            // Under Poisson sampling a round's size varies by design, and a buffered server update
            // merges its buffer, not clients_per_round: no "fewer available" note for either.
            let variable = topo.server.sampling == .poisson || topo.server.mode == .buffered
            let printer = ProgressPrinter(rounds: topo.rounds, clientsPerRound: variable ? 0 : topo.server.clientsPerRound)
            let server = try FederatedServer(topology: topo, options: .init(overwrite: overwrite, resume: resume != nil,
                                                                            progress: { printer.handle($0) },
                                                                            shouldStop: interrupted, security: security,
                                                                            build: BuildInfo.commit), logger: logger)
            let summary = try server.run()
            // Under `aviary run` its own summary says it, from run_end.
            let launched = ProcessInfo.processInfo.environment[ProcessLauncher.parentVariable] != nil
            if let population = summary.population, !launched { print("population: " + population) }
            if !summary.success {
                var message = "error: run \(summary.reason)\n"
                if interrupted() { message += "continue it with: aviary-server --resume \(directory.path)\n" }
                FileHandle.standardError.write(Data(message.utf8))
                throw ExitCode.failure
            }
            if let e = summary.finalEval {
                print(String(format: "final: accuracy %.4f, loss %.4f after %@", e.cleanAccuracy, e.cleanLoss,
                             plural(summary.roundsCompleted, "round"))
                      + (e.robustAccuracy.map { String(format: ", robust accuracy %.4f", $0) } ?? ""))
            }
        } catch let e as ExitCode {
            throw e
        } catch {
            release()
            throw fail(error)
        }
    }
}
