import Foundation
import Testing
@testable import AviaryData

@Suite struct PartitionStatsTests {
    /// Global distribution [1/2, 1/4, 1/4]; client 0 = {0, 0}, client 1 = {1, 2}, client 2 empty, 1 dropped.
    static let labels: [Int32] = [0, 0, 1, 2, 0, 0, 1, 2]
    static let partition = Partition(clientIndices: [[0, 1], [2, 3], []], dropped: 4, notes: ["n"])

    @Test func handComputedValues() throws {
        let s = PartitionStats(partition: Self.partition, labels: Self.labels, classes: 3)
        #expect(s.globalLabelCounts == [4, 2, 2])
        #expect(s.clients[0].labelCounts == [2, 0, 0] && s.clients[1].labelCounts == [0, 1, 1])
        #expect(s.clients[0].entropyBits == 0)
        #expect(abs(s.clients[1].entropyBits - 1) < 1e-12)
        #expect(abs(s.clients[0].totalVariation - 0.5) < 1e-12)   // ½(|1−½| + ¼ + ¼)
        #expect(abs(s.clients[1].totalVariation - 0.5) < 1e-12)   // ½(½ + ¼ + ¼)
        #expect(abs(s.clients[0].earthMovers - 0.75) < 1e-12)     // CDF gaps ½, ¼, 0
        #expect(s.clients[2].totalVariation == 1)
        #expect(s.minCount == 0 && s.maxCount == 2 && s.medianCount == 2)
        #expect(abs(s.meanTotalVariation - 2.0 / 3.0) < 1e-12)
        #expect(s.dropped == 4 && s.notes == ["n"])
        let decoded = try JSONDecoder().decode(PartitionStats.self, from: JSONEncoder().encode(s))
        #expect(decoded == s)
    }

    @Test func tableHasOneRowPerClientAndSummary() {
        let s = PartitionStats(partition: Self.partition, labels: Self.labels, classes: 3)
        let table = renderTable(s)
        let lines = table.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0].contains("client") && lines[0].contains("samples"))
        #expect(lines[1].contains("█··"))            // client 0: only class 0
        #expect(lines[2].contains("·██"))            // client 1: classes 1 and 2 equally
        #expect(table.contains("size min/median/max 0/2/2"))
        #expect(table.contains("note: n"))
        #expect(renderTable(s, maxRows: 1).contains("… 2 more clients"))
    }

    @Test func svgHasOneCellPerNonEmptyClientClassPair() {
        let s = PartitionStats(partition: Self.partition, labels: Self.labels, classes: 3)
        let svg = renderHeatmapSVG(s)
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.hasSuffix("</svg>\n"))
        #expect(svg.components(separatedBy: "fill=\"#08519c\"").count - 1 == 3)
        #expect(svg.contains("client 1, class 2: 1"))
        #expect(svg.contains("fill-opacity=\"0.500\""))
    }

    @Test func perClientEntriesAreBoundedButSizesCoverEveryClient() {
        let clients = PartitionStats.listedClientLimit + 500
        let labels = (0..<(2 * clients)).map { Int32($0 % 3) }
        var parts = (0..<clients).map { [2 * $0, 2 * $0 + 1] }
        parts[clients - 1] = [2 * (clients - 1)]  // the last client, beyond the listed ones, is smallest
        let s = PartitionStats(partition: Partition(clientIndices: parts, dropped: 1), labels: labels, classes: 3)
        #expect(s.clientCount == clients && s.clients.count == PartitionStats.listedClientLimit)
        #expect(s.minCount == 1 && s.maxCount == 2)
        #expect(renderTable(s, maxRows: 5).contains("… \(clients - 5) more clients"))
    }
}
