/// APGD's step-size control (Croce & Hein, ICML 2020, §3.1), as pure functions.
///
/// Checkpoints w_j = ⌈p_j·N⌉ with p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06):
/// the first interval is 0.22·N iterations, each next one 0.03·N shorter, down to 0.06·N. As in
/// the authors' code, each length is floored in whole iterations and is at least 1.
/// At a checkpoint the step size η halves, and the search restarts from the best point, when
/// 1. the loss rose from one iterate to the next in fewer than ρ·(w_j − w_{j−1}) of the
///    interval's steps (ρ = 0.75), or
/// 2. η^(w_{j−1}) = η^(w_j) and the best loss is the same as at the previous checkpoint.
/// As in the paper (not the authors' code), condition 2 applies from the first checkpoint on
/// (w_0 = 0, where η = 2ε), and the first step's loss is compared with the random start's.
public enum APGDSchedule {
    /// ρ of condition 1.
    public static let rho = 0.75
    /// Momentum α: x^(k+1) = P(x^(k) + α(z^(k+1) − x^(k)) + (1 − α)(x^(k) − x^(k−1))); the first step uses 1.
    public static let momentum: Float = 0.75
    /// η^(0) = 2ε.
    public static let initialStepFactor: Float = 2

    /// Length of the first interval, the per-checkpoint decrement and the minimum length, in iterations.
    static func intervalParameters(steps: Int) -> (first: Int, decrement: Int, minimum: Int) {
        (max(22 * steps / 100, 1), max(3 * steps / 100, 1), max(6 * steps / 100, 1))
    }

    /// The interval that follows one of length `current`.
    static func nextInterval(after current: Int, steps: Int) -> Int {
        let p = intervalParameters(steps: steps)
        return max(current - p.decrement, p.minimum)
    }

    /// The checkpoint iterations w_1 < w_2 < … ≤ `steps` (counted in gradient steps taken).
    public static func checkpoints(steps: Int) -> [Int] {
        var result = [Int](), interval = intervalParameters(steps: steps).first, w = interval
        while w <= steps {
            result.append(w)
            interval = nextInterval(after: interval, steps: steps)
            w += interval
        }
        return result
    }

    /// Whether η halves at a checkpoint. `increases` counts the interval's steps whose loss
    /// exceeded the previous iterate's; the two flags are condition 2's comparisons.
    public static func shouldHalve(increases: Int, interval: Int, stepSizeUnchanged: Bool, bestLossUnchanged: Bool) -> Bool {
        Double(increases) < rho * Double(interval) || (stepSizeUnchanged && bestLossUnchanged)
    }
}
