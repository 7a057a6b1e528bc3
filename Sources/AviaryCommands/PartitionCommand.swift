import ArgumentParser
import Foundation
import AviaryData
import AviaryTopology

/// `aviary partition <topology>`: see the non-IID split before spending an hour training.
struct PartitionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "partition",
        abstract: "Preview a topology's data partition: per-client table and a clients × classes heatmap (SVG).")

    @Argument(help: "Topology file.")
    var topology: String

    @Option(help: "Where to write the heatmap SVG (default: runs/<name>/partition.svg).")
    var svg: String?

    @Option(help: "Show at most this many clients in the table.")
    var limit: Int = 100

    func run() throws {
        do {
            let topo = try Topology.load(path: topology)
            let data = try FederatedDataset(spec: topo.data)
            let stats = data.statistics()
            print(renderTable(stats, maxRows: limit))  // ends with the build notes (stats.notes)
            let path = svg ?? "\(topo.output)/\(topo.name)/partition.svg"
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try renderHeatmapSVG(stats).write(toFile: path, atomically: true, encoding: .utf8)
            print("heatmap: \(path)")
        } catch {
            throw fail(error)
        }
    }
}
