import Foundation

/// How a heatmap maps values to colours.
public enum HeatmapScale: Sendable, Equatable {
    /// Pale to dark blue over the range (nil = 0…largest value); the low end stays visibly
    /// blue so a 0 cell differs from a blank one.
    case sequential(ClosedRange<Double>?)
    /// Blue below, red above a per-column centre (merge weights: the round's uniform 1/n), light
    /// grey at it (not white, so a neutral cell stands out from a blank one). The colour follows log2(value ÷ centre), so 2× and ½× are equally strong.
    case diverging(centers: [Double])

    /// The diverging colour of `ratio` = value ÷ centre; `spread` is the log2 ratio at full
    /// strength (2 → ¼× and 4× are the darkest blue and red). Colours from ColorBrewer RdBu, centre greyed.
    public static func divergingColor(ratio: Double, spread: Double) -> String {
        let l = ratio > 0 ? log2(ratio) : -Double.infinity
        let t = ratio.isNaN ? 0 : min(1, max(-1, l / max(spread, 1e-9)))
        let stops: [(Double, Double, Double)] = [(33, 102, 172), (146, 197, 222), (217, 217, 217), (244, 165, 130), (178, 24, 43)]
        return interpolate(stops, (t + 1) / 2)
    }

    public static let neutral = divergingColor(ratio: 1, spread: 1)

    /// The sequential colour of `v` in `range`.
    public static func sequentialColor(_ v: Double, in range: ClosedRange<Double>) -> String {
        let span = range.upperBound - range.lowerBound
        let t = span > 0 ? min(1, max(0, (v - range.lowerBound) / span)) : 1
        return interpolate([(198, 219, 239), (107, 174, 214), (8, 48, 107)], t)
    }

    /// Whole powers of two covering the largest departure from the centre, between 2× and 16×,
    /// so the legend's steps read as ½×, 2×, 4×…
    static func spread(values: [[Double?]], centers: [Double]) -> Double {
        var largest = 1.0
        for row in values {
            for (c, v) in row.enumerated() where c < centers.count {
                guard let v, v.isFinite, v > 0, centers[c] > 0 else { continue }
                largest = max(largest, abs(log2(v / centers[c])))
            }
        }
        return min(4, max(1, largest.rounded(.up)))
    }

    static func interpolate(_ stops: [(Double, Double, Double)], _ t: Double) -> String {
        let scaled = min(1, max(0, t)) * Double(stops.count - 1)
        let i = min(stops.count - 2, Int(scaled)), f = scaled - Double(i)
        let a = stops[i], b = stops[i + 1]
        func mix(_ x: Double, _ y: Double) -> Int { Int((x + (y - x) * f).rounded()) }
        return PlotPalette.hex(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }
}
