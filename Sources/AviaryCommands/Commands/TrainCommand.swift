import ArgumentParser
import Foundation
import AviaryReport
import AviaryData
import AviaryMath
import AviaryNN
import AviaryTopology

/// `aviary train <topology>`: the centralised baseline on the union of all clients' data, so
/// users can see what federation costs.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Centralised baseline: train the topology's model on the union of all clients' training data.")

    @Argument(help: "Topology file.")
    var topology: String

    @Option(help: "Epochs over the pooled data.")
    var epochs: Int = 5

    @Option(help: "OpenBLAS threads.")
    var threads: Int = 1

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1") }
    }

    func run() throws {
        do {
            let topo = try Topology.load(path: topology)
            BLAS.setThreads(threads)
            let data = try FederatedDataset(spec: topo.data)
            let train = data.centralisedTrain
            let test = data.globalTest()
            let spec = try topo.model.resolve(sampleShape: test.sampleShape, classes: test.classes)
            let net = try Network(spec: spec, maxBatch: max(topo.training.batchSize, 256))
            net.initialise(seed: topo.seeds.training)
            net.setOptimizer(topo.training.optimizer, anchor: nil)
            print("centralised \(spec.name) on \(plural(train.count, "sample")) (\(plural(data.spec.clients, "client")) pooled), batch_size \(topo.training.batchSize), learning_rate \(topo.training.optimizer.learningRate)")
            for epoch in 0..<epochs {
                let t0 = ContinuousClock.now
                let s = net.trainEpoch(samples: train.samples, batchSize: topo.training.batchSize,
                                       shuffleSeed: topo.seeds.training, epoch: epoch)
                let dt = ContinuousClock.now - t0
                let e = net.evaluate(samples: test.samples, batchSize: 256)
                let seconds = Double(dt.components.seconds) + Double(dt.components.attoseconds) * 1e-18
                print(String(format: "epoch %d  train loss %.4f  test acc %.4f  test loss %.4f  (%.2f s)", epoch + 1, s.meanLoss, e.accuracy, e.meanLoss, seconds))
            }
        } catch {
            throw fail(error)
        }
    }
}
