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
        subcommands: [Train.self, Merge.self, Partition.self, Transport.self, Privacy.self, SecAgg.self, Dashboard.self, All.self])

    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Training throughput (clean, or adversarial with --attack pgd).")
        @Option(help: "none | pgd") var attack: String = "none"
        @Option(help: "PGD steps with --attack pgd.") var steps: Int = 10
        @Option(help: "Seconds per measurement.") var seconds: Double = 1.0
        @Option(help: "Comma-separated models: mlp, cnn, logreg, resnet8, resnet20, lstm.") var models: String = "mlp,cnn"
        @Option(help: "Comma-separated BLAS thread counts.") var threads: String = "1,2"
        @Option(help: "Comma-separated batch sizes (clean training).") var batches: String = "32,64"
        func run() throws {
            let names = models.split(separator: ",").map(String.init)
            switch attack {
            case "pgd":
                guard steps >= 1 else { throw ValidationError("--steps \(steps): PGD needs at least 1 step") }
                for name in names {
                    print(AdversarialBench.run(model: name, steps: AdversarialBench.batches(for: name), batch: 32, threads: 1, attackSteps: steps))
                }
            case "none":
                let counts = threads.split(separator: ",").compactMap { Int($0) }
                let sizes = batches.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
                print(TrainBench.run(models: names, batches: sizes.isEmpty ? [32, 64] : sizes, threads: counts.isEmpty ? [1] : counts, seconds: seconds))
            default:
                throw ValidationError("--attack \(attack): use none or pgd")
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

    struct SecAgg: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "secagg",
            abstract: "Secure aggregation's pure layer: the mask PRG, a client's masking, in-memory rounds with and without dropouts.")
        @Option(help: "Clients per round.") var clients: Int = 100
        @Flag(help: "Only the mask PRG: the candidates from swift-crypto (ChaCha20, AES-CTR, AES-GCM) by chunk size, and the libgcrypt AES-CTR expansion Aviary masks with.") var prg = false
        func run() throws { print(prg ? SecAggPRGBench.run() : SecAggBench.run(clients: clients)) }
    }

    struct Partition: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Partitioning 60,000 samples over 1,000 clients.")
        func run() throws { print(PartitionBench.run()) }
    }

    struct Transport: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Wire codec and ZeroMQ loopback throughput for a CNN-sized UPDATE.")
        func run() throws { print(TransportBench.run()) }
    }

    struct Dashboard: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Listing a 200-run sweep in `aviary dashboard` (target: under 1 s).",
            discussion: "Writes the sweep's logs into a temporary directory, times the run list the page loads, and removes them.")
        @Option(help: "Runs in the sweep.") var runs: Int = 200
        @Option(help: "Rounds per completed run.") var rounds: Int = 50
        func run() throws { print(try DashboardBench.run(runs: runs, rounds: rounds)) }
    }

    struct All: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every benchmark, as recorded in the README.")
        func run() throws {
            print(TrainBench.run(models: ["mlp", "cnn"], batches: [32, 64], threads: [1, 2], seconds: 1.0))
            print(AdversarialBench.run(model: "mlp", steps: AdversarialBench.batches(for: "mlp"), batch: 32, threads: 1))
            print(AdversarialBench.run(model: "cnn", steps: AdversarialBench.batches(for: "cnn"), batch: 32, threads: 1))
            print(MergeBench.run(quick: false))
            print(PartitionBench.run())
            print(TransportBench.run())
            print(PrivacyBench.run())
            print(try DashboardBench.run())
        }
    }
}
