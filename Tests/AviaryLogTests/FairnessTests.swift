import Testing
import AviaryLog

@Suite struct FairnessTests {
    @Test func summaryOfHandComputedAccuracies() throws {
        // Prepare: 10 clients, one badly served.
        let accs = [0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.2]
        // Execute
        let f = try #require(Fairness(accs))
        // Assert: mean 0.75, min 0.2, worst 10% = the single worst client.
        #expect(f.clients == 10)
        #expect(abs(f.mean - 0.75) < 1e-12)
        #expect(f.min == 0.2)
        #expect(f.worst10Mean == 0.2)
        let variance = accs.reduce(0) { $0 + ($1 - 0.75) * ($1 - 0.75) } / 10
        #expect(abs(f.std - variance.squareRoot()) < 1e-12)
    }

    @Test func emptyIsNilAndRoundRecordFillsIt() {
        #expect(Fairness([]) == nil)
        let r = RoundRecord(round: 1, time: "t", durationSeconds: 0, sampled: [0, 1], accepted: [0, 1], rejected: [], failed: [],
                            timedOut: [], weights: [:], clientMetrics: ["0": ["global_val_accuracy": 0.5], "1": ["global_val_accuracy": 1.0]],
                            updateNorm: 0, eval: nil, checkpoint: nil, modelKept: false)
        #expect(r.fairness?.mean == 0.75)
        #expect(r.fairness?.min == 0.5)
    }
}
