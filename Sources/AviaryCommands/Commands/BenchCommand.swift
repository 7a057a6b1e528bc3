import AviaryBench
import ArgumentParser
import AviaryData
import AviaryTransport
import AviaryMath

/// `aviary bench …`: speed, measured side by side in one process (medians and ratios; the
/// machines are shared and noisy). Never part of the tests.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Speed benchmarks.",
        subcommands: [Train.self, Merge.self, Partition.self, Transport.self, Privacy.self, All.self])

    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Training throughput (clean, or adversarial with --attack pgd).")
        @Option(help: "none | pgd") var attack: String = "none"
        @Option(help: "PGD steps with --attack pgd.") var steps: Int = 10
        @Option(help: "Seconds per measurement.") var seconds: Double = 1.0
        @Option(help: "Comma-separated models: mlp, cnn, logreg, resnet8, resnet20, lstm.") var models: String = "mlp,cnn"
        @Option(help: "Comma-separated BLAS thread counts.") var threads: String = "1,2"
        func run() throws {
            if attack == "pgd" {
                print(AdversarialBench.run(steps: steps, batch: 32, threads: 1))
            } else {
                let names = models.split(separator: ",").map(String.init)
                let counts = threads.split(separator: ",").compactMap { Int($0) }
                print(TrainBench.run(models: names, batches: [32, 64], threads: counts.isEmpty ? [1] : counts, seconds: seconds))
            }
        }
    }

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Aggregation bandwidth against a copy/axpy probe.")
        @Flag(help: "Smaller sizes, fewer repetitions.") var quick = false
        func run() throws { print(MergeBench.run(quick: quick)) }
    }

    struct Privacy: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Central DP's cost per round (clip + noise vs. plain merge) and the RDP accountant's.")
        func run() throws { print(PrivacyBench.run()) }
    }

    struct Partition: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Partitioning 60,000 samples over 1,000 clients.")
        func run() throws { print(PartitionBench.run()) }
    }

    struct Transport: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Wire codec and ZeroMQ loopback throughput for a CNN-sized UPDATE.")
        func run() throws { print(TransportBench.run()) }
    }

    struct All: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every benchmark, as recorded in the README.")
        func run() throws {
            print(TrainBench.run(models: ["mlp", "cnn"], batches: [32, 64], threads: [1, 2], seconds: 1.0))
            print(AdversarialBench.run(steps: 10, batch: 32, threads: 1))
            print(MergeBench.run(quick: false))
            print(PartitionBench.run())
            print(TransportBench.run())
            print(PrivacyBench.run())
        }
    }
}
