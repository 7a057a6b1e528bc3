import Foundation
import Testing
import AviaryTestSupport
@testable import AviaryData

@Suite struct FederatedDatasetTests {

    @Test func syntheticNaturalKeepsDeviceTrainAndHalvesTheTestSplit() throws {
        let spec = DataSpec(dataset: .synthetic(alpha: 1, beta: 1, seed: 3), partition: .natural, clients: 6, partitionSeed: 1)
        let fed = try FederatedDataset(spec: spec)
        var trainTotal = 0, serverTotal = 0
        let server = fed.globalTest()
        for k in 0..<6 {
            let device = SyntheticGenerator.device(k, alpha: 1, beta: 1, seed: 3)
            let client = try fed.client(k)
            #expect(client.train == device.train)
            let sizes = try fed.clientSizes(k)
            #expect(sizes.train == client.train.count && sizes.test == client.test.count)
            // The device's test split is cut in two: the client's validation rows and the server's rows.
            let deviceRows = Set(rows(device.test))
            let clientRows = Set(rows(client.test))
            let serverRows = Set(rows(server).filter { deviceRows.contains($0) })
            #expect(clientRows.isSubset(of: deviceRows))
            #expect(clientRows.isDisjoint(with: serverRows))
            #expect(clientRows.count + serverRows.count == device.test.count)
            #expect(serverRows.count == device.test.count / 2)
            trainTotal += client.train.count
            serverTotal += serverRows.count
        }
        #expect(server.count == serverTotal)
        #expect(fed.centralisedTrain.count == trainTotal)
        #expect(fed.statistics().clients.map(\.count) == (0..<6).map { try! fed.client($0).train.count })
        #expect(throws: PartitionError.clientOutOfRange(index: 6, clients: 6)) { try fed.client(6) }
    }

    /// Each sample's feature values as a hashable row (synthetic features are continuous, so rows are unique).
    private func rows(_ d: Dataset) -> [[Float]] {
        let f = d.features, w = d.featureCount
        return (0..<d.count).map { Array(f[($0 * w)..<(($0 + 1) * w)]) }
    }

    @Test func clientValidationNeverOverlapsTheServerTestSet() throws {
        let dir = try TemporaryDirectory()
        var text = "x,y,label,owner\n"
        for i in 0..<300 { text += "\(i),\(Double(i) / 3),\(i % 3),u\(i % 5)\n" }
        let path = try dir.write("train.csv", text: text)
        let specs = [
            DataSpec(dataset: .synthetic(alpha: 0.5, beta: 0.5, seed: 7), partition: .natural, clients: 12, partitionSeed: 2),
            DataSpec(dataset: .synthetic(alpha: 0.5, beta: 0.5, seed: 7), partition: .iid(sizes: nil), clients: 4, partitionSeed: 2),
            DataSpec(dataset: .csv(train: path, test: nil, labelColumn: "label", ownerColumn: "owner"),
                     partition: .natural, clients: 5, partitionSeed: 1, localTestFraction: 0.2),
        ]
        for spec in specs {
            let fed = try FederatedDataset(spec: spec)
            let server = Set(rows(fed.globalTest()))
            for k in 0..<spec.clients {
                let c = try fed.client(k)
                #expect(Set(rows(c.test)).isDisjoint(with: server), "\(spec.dataset.name) client \(k)")
                #expect(Set(rows(c.train)).isDisjoint(with: server), "\(spec.dataset.name) client \(k)")
            }
        }
    }

    @Test func testSamplesIsASeededSubsetOfTheHeldOutData() throws {
        let full = try FederatedDataset(spec: DataSpec(dataset: .synthetic(alpha: 1, beta: 1, seed: 3), partition: .iid(sizes: nil),
                                                       clients: 4, partitionSeed: 1))
        var spec = full.spec
        let half = full.globalTest().count / 2
        spec.testSamples = half
        let a = try FederatedDataset(spec: spec), b = try FederatedDataset(spec: spec)
        #expect(a.globalTest().count == half && a.globalTest() == b.globalTest())
        #expect(Set(rows(a.globalTest())).isSubset(of: Set(rows(full.globalTest()))))
        #expect(a.notes.contains { $0.contains("server test set: \(half) of \(full.globalTest().count)") })

        var natural = DataSpec(dataset: .synthetic(alpha: 1, beta: 1, seed: 3), partition: .natural, clients: 40, partitionSeed: 1)
        let allHeldOut = Set(rows(try FederatedDataset(spec: natural).globalTest()))
        natural.testSamples = 30
        let subset = try FederatedDataset(spec: natural).globalTest()
        #expect(subset.count == 30)
        #expect(Set(rows(subset)).isSubset(of: allHeldOut))
    }

    @Test func hugeSyntheticPopulationsAreBuiltOnDemandWithBoundedStatistics() throws {
        let spec = DataSpec(dataset: .synthetic(alpha: 1, beta: 1, seed: 5), partition: .natural, clients: 20_000,
                            partitionSeed: 1, trainLimit: 20, testSamples: 100)
        let fed = try FederatedDataset(spec: spec)
        #expect(fed.trainPool == nil && fed.partition == nil)
        #expect(try fed.client(19_999).train == SyntheticGenerator.device(19_999, alpha: 1, beta: 1, seed: 5).train.prefix(20))
        let stats = fed.statistics()
        #expect(stats.clientCount == 20_000 && stats.clients.count == PartitionStats.listedClientLimit)
        #expect(stats.maxCount == 20 && stats.minCount == 20 && stats.samples == 400_000)
        #expect(stats.notes.contains { $0.contains("first 1000 of 20000 devices") })
        #expect(fed.globalTest().count == 100)
    }

    @Test func syntheticTrainLimitCapsEachDevice() throws {
        let spec = DataSpec(dataset: .synthetic(alpha: 0.5, beta: 0.5, seed: 3), partition: .natural, clients: 8, trainLimit: 40)
        let fed = try FederatedDataset(spec: spec)
        for k in 0..<8 { #expect(try fed.client(k).train.count == 40) }  // every device has ≥ 50 samples, 45 for training
    }

    @Test func syntheticWithLabelPartitionSplitsLocally() throws {
        let spec = DataSpec(dataset: .synthetic(alpha: 1, beta: 1, seed: 3), partition: .iid(sizes: nil), clients: 5,
                            partitionSeed: 2, localTestFraction: 0.2)
        let fed = try FederatedDataset(spec: spec)
        let pool = fed.trainPool!.count
        let sizes = try (0..<5).map { try fed.client($0) }.map { $0.train.count + $0.test.count }
        #expect(sizes.reduce(0, +) == pool)
        #expect(sizes.max()! - sizes.min()! <= 1)
    }

    @Test(.enabled(if: Prerequisite.enabled(FashionMNISTFixture.isAvailable), FashionMNISTFixture.skipReason))
    func fashionMNISTIIDTenClientsOf6000() throws {
        let spec = DataSpec(dataset: .fashionMNIST(directory: DatasetSpec.defaultFashionMNISTDirectory),
                            partition: .iid(sizes: nil), clients: 10, partitionSeed: 0, localTestFraction: 0)
        let fed = try FederatedDataset.shared(spec: spec)
        #expect(try FederatedDataset.shared(spec: spec) === fed)  // loaded once per process
        let first = try fed.client(0)
        #expect(first.train.count == 6000 && first.test.count == 0)
        #expect(first.train.sampleShape == [1, 28, 28] && first.train.valueRange == 0...1)
        #expect(fed.globalTest().count == 10_000)
        #expect(fed.statistics().meanTotalVariation < 0.03)
    }

    @Test(.enabled(if: Prerequisite.enabled(FashionMNISTFixture.isAvailable), FashionMNISTFixture.skipReason))
    func fashionMNISTDirichletWithTrainLimitAndFeatureSkew() throws {
        let skew = FeatureSkew(maxRotationDegrees: 30, noiseStd: 0.1, brightnessRange: -0.1...0.1)
        let spec = DataSpec(dataset: .fashionMNIST(directory: DatasetSpec.defaultFashionMNISTDirectory),
                            partition: .dirichlet(alpha: 0.1, minSize: 10), featureSkew: skew,
                            clients: 20, partitionSeed: 4, trainLimit: 2000)
        let fed = try FederatedDataset(spec: spec)
        #expect(fed.trainPool!.count == 2000)
        #expect(fed.notes.contains { $0.contains("train_limit") })
        let stats = fed.statistics()
        #expect(stats.clients.map(\.count).reduce(0, +) + stats.dropped == 2000)
        #expect(stats.minCount >= 10)
        let client = try fed.client(5)
        #expect(client.train.features.allSatisfy { $0 >= 0 && $0 <= 1 })
        let raw = fed.trainPool!.subset(LocalSplit.split(fed.partition!.clientIndices[5], testFraction: 0.1, seed: 4, client: 5).train)
        #expect(raw.labels == client.train.labels)
        #expect(raw.features != client.train.features)
    }

    @Test func csvNaturalWithoutTestFileHoldsOutTenPercent() throws {
        let dir = try TemporaryDirectory()
        var text = "x,y,label,owner\n"
        for i in 0..<200 { text += "\(i),\(Double(i) / 2),\(i % 3),u\(i % 4)\n" }
        let path = try dir.write("train.csv", text: text)
        let spec = DataSpec(dataset: .csv(train: path, test: nil, labelColumn: "label", ownerColumn: "owner"),
                            partition: .natural, clients: 4, partitionSeed: 1, localTestFraction: 0.1)
        let fed = try FederatedDataset(spec: spec)
        #expect(fed.globalTest().count == 20 && fed.trainPool!.count == 180)
        #expect(fed.notes.contains { $0.contains("held out 20") })
        for k in 0..<4 {
            let c = try fed.client(k)
            #expect(Set(c.train.owners! + c.test.owners!).count == 1)
        }
        #expect(fed.trainPool!.classes == 3)
    }

    @Test func invalidSpecsAreRejected() throws {
        let synth = DatasetSpec.synthetic(alpha: 1, beta: 1, seed: 0)
        #expect(throws: DatasetError.self) { try FederatedDataset(spec: DataSpec(dataset: synth, partition: .natural, clients: 2, localTestFraction: 1)) }
        #expect(throws: DatasetError.self) {
            try FederatedDataset(spec: DataSpec(dataset: synth, partition: .natural, featureSkew: FeatureSkew(maxRotationDegrees: 10), clients: 2))
        }
        #expect(throws: PartitionError.self) { try FederatedDataset(spec: DataSpec(dataset: synth, partition: .natural, clients: 0)) }
        #expect(throws: DatasetError.self) {
            try FederatedDataset(spec: DataSpec(dataset: .fashionMNIST(directory: "/nonexistent"), partition: .natural, clients: 2))
        }
    }

    @Test func specsRoundTripThroughJSON() throws {
        let specs = [
            DataSpec(dataset: .csv(train: "a.csv", test: nil, labelColumn: "y", ownerColumn: "w"), partition: .quantitySkew(.powerLaw(exponent: 1.5)),
                     featureSkew: FeatureSkew(maxRotationDegrees: 15, brightnessRange: -0.2...0.3), clients: 4, partitionSeed: 9, trainLimit: 100),
            DataSpec(dataset: .npy(trainX: "x", trainY: "y", testX: nil, testY: nil), partition: .classesPerClient(2), clients: 3),
            DataSpec(dataset: .synthetic(alpha: 0.5, beta: 0.5, seed: 1), partition: .shards(perClient: 2, shardsTotal: nil), clients: 30),
        ]
        for spec in specs {
            let decoded = try JSONDecoder().decode(DataSpec.self, from: JSONEncoder().encode(spec))
            #expect(decoded == spec)
        }
    }
}
