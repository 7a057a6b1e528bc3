import Foundation

/// Welch's two-sample t-test on seed means, for the results' "is this more than seed noise"
/// sentence. With 3 seeds per side the test has ~4 degrees of freedom, so only large, consistent
/// differences count; saying so is the point.
public struct WelchTest: Sendable, Equatable {
    public var difference: Double
    public var t: Double
    public var degreesOfFreedom: Double
    /// Two-sided 5 % critical value of Student's t at the (rounded-down) degrees of freedom.
    public var critical: Double

    /// nil when either side has fewer than two values or both have zero spread.
    public init?(_ a: MeanStd, _ b: MeanStd) {
        guard let sa = a.std, let sb = b.std else { return nil }
        let va = sa * sa / Double(a.count), vb = sb * sb / Double(b.count)
        guard va + vb > 0 else { return nil }
        difference = a.mean - b.mean
        t = difference / (va + vb).squareRoot()
        let df = (va + vb) * (va + vb) / (va * va / Double(a.count - 1) + vb * vb / Double(b.count - 1))
        degreesOfFreedom = df
        critical = Self.critical(df: df)
    }

    public var significant: Bool { abs(t) >= critical }

    /// t₀.₉₇₅ for 1…30 degrees of freedom (standard tables), then the normal's 1.96 beyond.
    static let table: [Double] = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                  2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                  2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]

    static func critical(df: Double) -> Double {
        let k = Int(df.rounded(.down))
        if k < 1 { return table[0] }
        return k <= table.count ? table[k - 1] : 1.96
    }
}
