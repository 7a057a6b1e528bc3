import AviaryReport
import ArgumentParser
import Foundation
import AviaryData
import AviaryLog
import AviaryTopology

/// `aviary partition <topology>`: see the non-IID split before spending an hour training.
/// With `--export FILE` it also writes every client's sample indices (`PartitionExport`), and
/// with `--labels labels.npy` it partitions a user's own label array instead of a topology's data.
struct PartitionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "partition",
        abstract: "Preview a topology's data partition: per-client table and a clients × classes heatmap (SVG).",
        discussion: """
        --export FILE writes every client's local training and held-out sample indices as a NumPy .npz \
        (docs/TOPOLOGY.md, "Exported partitions"). --labels FILE partitions a label array (.npy, one integer \
        per sample) with --clients, --partition and its parameters instead of a topology's dataset.
        """)

    @Argument(help: "Topology file (not with --labels).")
    var topology: String?

    @Option(name: [.customShort("o"), .customLong("output"), .customLong("svg")],
            help: "Where to write the heatmap SVG (default: <name>-partition.svg in the working directory).")
    var svg: String?

    @Option(help: "Show at most this many clients in the table.")
    var limit: Int = 100

    @Option(help: "Write every client's sample indices to this .npz file.")
    var export: String?

    @Option(help: "Partition this label array (.npy of integers) instead of a topology's data.")
    var labels: String?
    @Option(help: "With --labels: the number of clients.")
    var clients: Int?
    @Option(help: "With --labels: the partitioner (iid, dirichlet, shards, classes-per-client, quantity-skew).")
    var partition: String = "iid"
    @Option(help: "With --labels: Dirichlet concentration α.")
    var alpha: Double?
    @Option(name: .customLong("min-size"), help: "With --labels: Dirichlet's minimum samples per client.")
    var minSize: Int?
    @Option(name: .customLong("shards-per-client"), help: "With --labels: shards per client.")
    var shardsPerClient: Int?
    @Option(name: .customLong("classes-per-client"), help: "With --labels: classes per client.")
    var classesPerClient: Int?
    @Option(help: "With --labels: the partition seed (a topology's [seeds] partition).")
    var seed: Int = 1
    @Option(name: .customLong("local-test-fraction"), help: "With --labels: each client's held-out share.")
    var localTestFraction: Double = 0.1

    /// Preview α = 0.01 without editing a copy of the file: `--set data.alpha=0.01`.
    @OptionGroup var set: OverrideOptions

    func validate() throws {
        if labels == nil {
            guard topology != nil else { throw ValidationError("give a topology file, or --labels FILE --clients N") }
            guard clients == nil, alpha == nil, minSize == nil, shardsPerClient == nil, classesPerClient == nil else {
                throw ValidationError("--clients, --alpha, --min-size, --shards-per-client and --classes-per-client go with --labels; a topology sets them in [data]")
            }
        } else {
            guard topology == nil else { throw ValidationError("--labels partitions a label array: give no topology file with it") }
            guard clients != nil else { throw ValidationError("--labels needs --clients N") }
            guard export != nil else { throw ValidationError("--labels needs --export FILE (where the indices go)") }
        }
    }

    func run() throws {
        do {
            if let labels { try partitionLabels(labels); return }
            let topo = try Topology.load(path: topology!, overrides: set.overrides)
            warnAbout(topo)
            let data = try FederatedDataset(spec: topo.data)
            let stats = data.statistics()
            print(PartitionTable.text(stats, maxRows: limit))  // ends with the build notes (stats.notes)
            if let export {
                guard let exported = data.exportedPartition else {
                    throw PartitionExportError.noIndices(dataset: topo.data.dataset.name)
                }
                try write(exported, to: export)
            }
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

    /// The flags become a `[data]` table that the topology parser checks as it checks a file's
    /// (one set of rules and messages), over `dataset = "npy"` naming the label file.
    private func partitionLabels(_ path: String) throws {
        var data = "dataset = \"npy\"\ntrain_x = \(quoted(path))\ntrain_y = \(quoted(path))\nclients = \(clients!)\n"
        data += "partition = \(quoted(partition))\nlocal_test_fraction = \(localTestFraction)\n"
        if let alpha { data += "alpha = \(alpha)\n" }
        if let minSize { data += "min_size = \(minSize)\n" }
        if let shardsPerClient { data += "shards_per_client = \(shardsPerClient)\n" }
        if let classesPerClient { data += "classes_per_client = \(classesPerClient)\n" }
        let topo = try Topology.parse("[run]\nname = \"labels\"\n[seeds]\npartition = \(seed)\n[data]\n" + data,
                                      file: "aviary partition --labels")
        let values = try NPYLoader.loadIntegers(path: path, upperBound: Int(Int32.max))
        guard let top = values.max() else { throw PartitionExportError.noLabels(path: path) }
        let labels = values.map(Int32.init)
        let split = try topo.data.partition.partition(labels: labels, owners: nil, classes: top + 1, clients: topo.data.clients,
                                                      seed: topo.data.partitionSeed, datasetName: path)
        let stats = PartitionStats(partition: split, labels: labels, classes: top + 1)
        print(PartitionTable.text(stats, maxRows: limit))
        try write(PartitionExport(partition: split, localTestFraction: topo.data.localTestFraction, seed: topo.data.partitionSeed),
                  to: export!)
    }

    private func quoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    private func write(_ exported: PartitionExport, to path: String) throws {
        do { try AtomicFile.write(Data(exported.npz()), to: path) } catch {
            throw RunFileError.cannotWrite(path: path, reason: ErrorReason.of(error))
        }
        let train: Int = exported.train.reduce(0) { $0 + $1.count }
        let test: Int = exported.test.reduce(0) { $0 + $1.count }
        let samples = train + test
        print("indices: \(path) (\(exported.train.count) clients, \(samples) samples)")
    }
}

enum PartitionExportError: Error, CustomStringConvertible {
    case noIndices(dataset: String)
    case noLabels(path: String)
    var description: String {
        switch self {
        case let .noIndices(dataset): "--export: \(dataset) generates each client's samples (partition = \"natural\"); there are no sample indices to export"
        case let .noLabels(path): "\(path): the label array is empty"
        }
    }
}
