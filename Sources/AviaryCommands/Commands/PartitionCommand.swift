import AviaryReport
import ArgumentParser
import Foundation
import AviaryData
import AviaryLog
import AviaryTopology

/// `aviary partition <topology>`: see the non-IID split before spending an hour training.
struct PartitionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "partition",
        abstract: "Preview a topology's data partition: per-client table and a clients × classes heatmap (SVG).")

    @Argument(help: "Topology file.")
    var topology: String

    @Option(name: [.customShort("o"), .customLong("output"), .customLong("svg")],
            help: "Where to write the heatmap SVG (default: <name>-partition.svg in the working directory).")
    var svg: String?

    @Option(help: "Show at most this many clients in the table.")
    var limit: Int = 100

    /// Preview α = 0.01 without editing a copy of the file: `--set data.alpha=0.01`.
    @OptionGroup var set: OverrideOptions

    func run() throws {
        do {
            let topo = try Topology.load(path: topology, overrides: set.overrides)
            warnAbout(topo)
            let data = try FederatedDataset(spec: topo.data)
            let stats = data.statistics()
            print(PartitionTable.text(stats, maxRows: limit))  // ends with the build notes (stats.notes)
            // A preview, not a run: it never creates runs/<name>/, so the run keeps a fresh directory.
            let path = svg ?? "\(topo.name)-partition.svg"
            do {
                try PartitionHeatmap.svg(stats).write(toFile: path, atomically: true, encoding: .utf8)
            } catch {
                throw RunFileError.cannotWrite(path: path, reason: ErrorReason.of(error))
            }
            print("heatmap: \(path)")
        } catch {
            throw fail(error)
        }
    }
}
