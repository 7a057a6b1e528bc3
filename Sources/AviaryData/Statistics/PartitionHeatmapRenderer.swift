import Foundation

/// A standalone SVG heatmap, clients (rows) × classes (columns); cell opacity is the class's
/// share of that client's samples. Hand-written markup, no dependencies.
public func renderHeatmapSVG(_ stats: PartitionStats) -> String {
    let rows = stats.clients.count, cols = max(1, stats.classes)
    let cellW = 24.0
    let cellH = min(16.0, max(1.0, 800.0 / Double(max(1, rows))))
    let left = 60.0, top = 50.0
    // Wide enough for the title (about 6.5 px per character at font-size 12).
    let width = max(left + cellW * Double(cols) + 20, left + 330), height = top + cellH * Double(rows) + 30
    let labelEvery = max(1, Int((12.0 / cellH).rounded(.up)))
    var svg = """
    <svg xmlns="http://www.w3.org/2000/svg" width="\(fmt(width))" height="\(fmt(height))" viewBox="0 0 \(fmt(width)) \(fmt(height))" font-family="sans-serif" font-size="10">
    <title>Label distribution: \(rows) clients × \(stats.classes) classes</title>
    <text x="\(fmt(left))" y="14" font-size="12">clients × classes (share of each client's samples)</text>

    """
    for c in 0..<stats.classes {
        svg += "<text x=\"\(fmt(left + cellW * (Double(c) + 0.5)))\" y=\"\(fmt(top - 6))\" text-anchor=\"middle\">\(c)</text>\n"
    }
    for (r, client) in stats.clients.enumerated() {
        let y = top + cellH * Double(r)
        if r % labelEvery == 0 {
            svg += "<text x=\"\(fmt(left - 4))\" y=\"\(fmt(y + min(cellH, 12) - 2))\" text-anchor=\"end\">\(client.client)</text>\n"
        }
        let n = Double(max(1, client.count))
        for (c, count) in client.labelCounts.enumerated() where count > 0 {
            svg += "<rect x=\"\(fmt(left + cellW * Double(c)))\" y=\"\(fmt(y))\" width=\"\(fmt(cellW))\" height=\"\(fmt(cellH))\" fill=\"#08519c\" fill-opacity=\"\(String(format: "%.3f", Double(count) / n))\"><title>client \(client.client), class \(c): \(count)</title></rect>\n"
        }
    }
    svg += "<rect x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"\(fmt(cellW * Double(cols)))\" height=\"\(fmt(cellH * Double(rows)))\" fill=\"none\" stroke=\"#999\"/>\n"
    svg += "<text x=\"\(fmt(left))\" y=\"\(fmt(height - 10))\">dropped \(stats.dropped), mean TV \(String(format: "%.3f", stats.meanTotalVariation))</text>\n"
    svg += "</svg>\n"
    return svg
}

private func fmt(_ v: Double) -> String {
    v == v.rounded() ? String(Int(v)) : String(format: "%.2f", v)
}
