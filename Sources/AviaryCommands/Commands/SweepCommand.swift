import ArgumentParser
import Foundation
import AviaryReport
import AviaryLog
import AviaryTopology

/// `aviary sweep FILE --grid key=v1,v2 … --seeds 1,2,3`: every combination of the grid values
/// and seeds as its own `aviary run` (same launcher, its own server and client processes),
/// named from its settings, under `runs/<sweep>/`, with an index in `runs/<sweep>/sweep.json`.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a topology over a grid of settings and seeds, one `aviary run` per combination.",
        discussion: """
        Each run goes to <[run].output>/<sweep>/<name>, the name made of its settings, e.g. runs/mwa-sweep/penalty=0.5,metric=adv_loss,seed=2. --seeds S sets seeds.base = S, from which the partition, sampling and training seeds derive (S+1, S+2, S+3).

        Every grid point is validated before anything runs. Runs already completed (run_end status completed, same topology) are skipped and any other run starts again from scratch, so the same command resumes an interrupted sweep. runs/<sweep>/sweep.json indexes the runs. Exit status 0 only when every run completed.

        Example:
          aviary sweep topologies/fmnist-dirichlet-pgd-mwa.toml --grid merge.penalty=0,0.5,1,2 --grid merge.metric=train_loss,adv_loss --seeds 1,2,3 --parallel 2
        """)

    @Argument(help: "Topology file, e.g. topologies/quickstart.toml.")
    var topology: String

    @Option(name: .customLong("grid"), help: ArgumentHelp("A key and the values to try, comma-separated (repeatable); the product of all grids runs.",
                                                          valueName: "key.path=v1,v2,…"))
    var grids: [String] = []

    @Option(help: ArgumentHelp("Seeds to repeat every grid point with: each one is a run's seeds.base (list or ranges, e.g. 1,2,3 or 1-5).",
                               valueName: "list"))
    var seeds: String?

    @OptionGroup var set: OverrideOptions

    @Option(help: "Runs at once (each run starts its own server and client processes).")
    var parallel = 1

    @Option(help: "The sweep's name: its directory under [run].output (default: <[run].name>-sweep).")
    var name: String?

    @Flag(name: .customLong("dry-run"), help: "Validate every run and print the plan; run nothing and write nothing.")
    var dryRun = false

    func validate() throws {
        guard parallel >= 1 else { throw ValidationError("--parallel must be at least 1") }
        if grids.isEmpty && seeds == nil { throw ValidationError("Give at least one --grid key=v1,v2 or --seeds 1,2,3.") }
    }

    func run() throws {
        let setup: SweepSetup
        do { setup = try SweepSetup.make(file: topology, grids: grids, seeds: seeds, overrides: set.overrides, name: name) } catch {
            throw fail(error)
        }
        for w in Set(setup.topologies.flatMap(\.warnings)).sorted() { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
        if parallel > 1, let t = setup.topologies.first(where: { $0.processes.blasThreads > 1 }) {
            FileHandle.standardError.write(Data("warning: [processes] blas_threads = \(t.processes.blasThreads) with --parallel \(parallel): the runs' BLAS threads compete for the cores\n".utf8))
        }
        if case let .conflicting(run, reason)? = setup.conflict {
            throw fail(SweepError.conflictingRun(directory: run, reason: reason))
        }
        let plan = setup.plan
        say("aviary: sweep \(setup.sweepName): \(plural(plan.runs.count, "run")) (\(setup.describeAxes())) in \(setup.directory), "
            + "\(setup.completedCount) already complete, up to \(parallel) at a time")
        if dryRun {
            for (i, run) in plan.runs.enumerated() {
                say("  \(run.name): \(setup.existing[i].plan)   --set " + run.overrides.joined(separator: " --set "))
            }
            return
        }
        installInterruptHandler()
        let runner = SweepRunner(setup: setup, parallel: parallel, binDirectory: executableDirectory())
        let allCompleted: Bool
        do { allCompleted = try runner.run() } catch { throw fail(error) }
        if !allCompleted { throw ExitCode.failure }
    }
}

/// A sweep that cannot start.
enum SweepError: Error, CustomStringConvertible {
    case conflictingRun(directory: String, reason: String)
    case cannotCreate(path: String, reason: String)

    var description: String {
        switch self {
        case let .conflictingRun(directory, reason):
            "\(directory) \(reason); give the sweep another --name, or remove that run directory"
        case let .cannotCreate(path, reason):
            "cannot create \(path): \(reason)"
        }
    }
}
