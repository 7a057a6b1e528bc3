/// Summed cross-entropy loss and correct predictions over some samples.
public struct BatchStats: Sendable, Hashable {
    /// Sum (not mean) of per-sample losses, in Double so long epochs do not lose precision.
    public var lossSum: Double
    public var correct: Int
    public var count: Int

    public init(lossSum: Double = 0, correct: Int = 0, count: Int = 0) {
        self.lossSum = lossSum
        self.correct = correct
        self.count = count
    }

    /// Mean loss per sample (0 when empty).
    public var meanLoss: Double { count > 0 ? lossSum / Double(count) : 0 }
    /// Fraction of correct predictions (0 when empty).
    public var accuracy: Double { count > 0 ? Double(correct) / Double(count) : 0 }

    /// Adds another batch's totals to these.
    public mutating func add(_ other: BatchStats) {
        lossSum += other.lossSum
        correct += other.correct
        count += other.count
    }
}
