import Testing
@testable import AviaryMerge
import AviaryMath

/// f huge-norm attackers among honest updates near a common mean.
@Suite struct ByzantineToleranceTests {
    private static let p = 200
    private static let honestCount = 12
    private static let byzantineCount = 3

    private static func updates() -> (updates: [ClientUpdate], honestMean: [Float]) {
        var rng = RandomStream(seed: 99, purpose: .synthetic)
        let center = (0..<p).map { _ in Float(rng.normal()) }
        var updates: [ClientUpdate] = []
        for i in 0..<(honestCount + byzantineCount) {
            let byzantine = i % 5 == 2  // scattered through the index order: clients 2, 7, 12
            let delta = center.map { c in byzantine ? Float(1e6 * rng.normal()) : c + Float(0.1 * rng.normal()) }
            updates.append(ClientUpdate(clientIndex: i, samples: 100, metrics: ["train_loss": 1, "dataset_size": 100], delta: delta))
        }
        let honest = updates.filter { $0.clientIndex % 5 != 2 }
        let mean = (0..<p).map { j in honest.reduce(Float(0)) { $0 + $1.delta[j] } / Float(honest.count) }
        return (updates, mean)
    }

    private static func distance(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
    }

    @Test(arguments: [AggregationStrategy.median, .trimmedMean(beta: 0.25), .krum(byzantine: 3),
                      .multiKrum(byzantine: 3, selected: 6)])
    func robustStrategiesStayNearTheHonestMean(strategy: AggregationStrategy) throws {
        let (updates, mean) = Self.updates()
        let r = try aggregate(updates, strategy: strategy)
        // Honest spread per coordinate is 0.1; the attackers are at 1e6.
        #expect(Self.distance(r.delta, mean) < 0.1 * Double(Self.p).squareRoot())
        for byzantine in [2, 7, 12] { #expect(r.weights[byzantine]! < 0.05) }
    }

    @Test func fedavgIsDraggedAway() throws {
        let (updates, mean) = Self.updates()
        let r = try aggregate(updates, strategy: .fedavg)
        #expect(Self.distance(r.delta, mean) > 1e4)
    }

    @Test func clippingBoundsTheAttackForFedavg() throws {
        let (updates, mean) = Self.updates()
        let r = try aggregate(updates, strategy: .fedavg, clipNorm: 20)
        #expect(Set(r.clipped.keys) == [2, 7, 12])
        // mean of 15 = (12·honest + Σ clipped attackers)/15, so it is off by ≤ ‖honest‖/5 + 3·20/15.
        let zero = [Float](repeating: 0, count: Self.p)
        let bound: Double = Self.distance(mean, zero) / 5 + 4 + 1e-3
        #expect(Self.distance(r.delta, mean) <= bound)
    }
}
