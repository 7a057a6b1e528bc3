import Foundation

/// A linear axis: a data domain widened to "nice" tick values (1, 2 or 5 × 10^k steps).
public struct AxisScale: Sendable, Equatable {
    public var lower: Double
    public var upper: Double
    public var ticks: [Double]
    /// Decimals needed to print the ticks distinctly.
    public var decimals: Int

    /// A scale covering `values` (non-finite values are ignored). A constant series gets a
    /// band around it so it plots mid-height; no values gives 0…1. `integer` keeps steps ≥ 1
    /// (round numbers, client counts). `exact` keeps the domain as given (ticks fall inside it)
    /// instead of widening it to the next tick.
    public init(covering values: [Double], includeZero: Bool = false, integer: Bool = false, exact: Bool = false,
                targetTicks: Int = 5) {
        var finite = values.filter(\.isFinite)
        if includeZero { finite.append(0) }
        var lo = finite.min() ?? 0, hi = finite.max() ?? 1
        if lo == hi {
            let pad = integer ? 1 : (lo == 0 ? 1 : abs(lo) * 0.1)
            lo -= pad; hi += pad
            if includeZero && finite.allSatisfy({ $0 >= 0 }) { lo = max(lo, 0) }
        }
        var step = Self.niceStep((hi - lo) / Double(max(1, targetTicks)))
        if integer { step = max(1, step.rounded()) }
        let first = exact ? (lo / step).rounded(.up) * step : (lo / step).rounded(.down) * step
        var last = exact ? (hi / step).rounded(.down) * step : (hi / step).rounded(.up) * step
        if last == first && !exact { last = first + step }
        let count = max(0, Int(((last - first) / step).rounded()))
        lower = exact ? lo : first
        upper = exact ? hi : last
        ticks = (0...count).map { first + Double($0) * step }
        decimals = step >= 1 ? 0 : Int((-log10(step)).rounded(.up))
    }

    /// Position of `v` in 0…1 along the axis.
    public func fraction(_ v: Double) -> Double { (v - lower) / (upper - lower) }

    public func label(_ v: Double) -> String {
        // Ticks built by repeated addition can land on -1e-17; print those as 0, not "-0.0".
        let snapped = abs(v) < (upper - lower) * 1e-9 ? 0 : v
        return String(format: "%.\(decimals)f", snapped)
    }

    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let f = raw / magnitude
        let nice: Double = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10
        return nice * magnitude
    }
}
