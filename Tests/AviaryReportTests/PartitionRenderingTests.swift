import Foundation
import Testing
import AviaryData
import AviaryReport

@Suite struct PartitionRenderingTests {
    /// Global distribution [1/2, 1/4, 1/4]; client 0 = {0, 0}, client 1 = {1, 2}, client 2 empty, 1 dropped.
    static let labels: [Int32] = [0, 0, 1, 2, 0, 0, 1, 2]
    static let partition = Partition(clientIndices: [[0, 1], [2, 3], []], dropped: 4, notes: ["n"])

    @Test func tableHasOneRowPerClientAndSummary() {
        let s = PartitionStats(partition: Self.partition, labels: Self.labels, classes: 3)
        let table = PartitionTable.text(s)
        let lines = table.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0].contains("client") && lines[0].contains("samples"))
        #expect(lines[1].contains("█··"))            // client 0: only class 0
        #expect(lines[2].contains("·██"))            // client 1: classes 1 and 2 equally
        #expect(table.contains("size min/median/max 0/2/2"))
        #expect(table.contains("note: n"))
        #expect(PartitionTable.text(s, maxRows: 1).contains("… 2 more clients"))
    }

    /// The partition heatmap is the report's `Heatmap`: one cell per non-empty client × class pair.
    @Test func svgHasOneCellPerNonEmptyClientClassPair() {
        let s = PartitionStats(partition: Self.partition, labels: Self.labels, classes: 3)
        let svg = PartitionHeatmap.svg(s)
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.hasSuffix("</svg>\n"))
        #expect(svg.components(separatedBy: "<title>client ").count - 1 == 3)
        #expect(svg.contains("client 1, class 2: 0.5"))
        #expect(svg.contains("client 0, class 0: 1"))
    }
}
