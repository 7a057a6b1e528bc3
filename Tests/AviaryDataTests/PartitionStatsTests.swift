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

    @Test func perClientEntriesAreBoundedButSizesCoverEveryClient() {
        let clients = PartitionStats.listedClientLimit + 500
        let labels = (0..<(2 * clients)).map { Int32($0 % 3) }
        var parts = (0..<clients).map { [2 * $0, 2 * $0 + 1] }
        parts[clients - 1] = [2 * (clients - 1)]  // the last client, beyond the listed ones, is smallest
        let s = PartitionStats(partition: Partition(clientIndices: parts, dropped: 1), labels: labels, classes: 3)
        #expect(s.clientCount == clients && s.clients.count == PartitionStats.listedClientLimit)
        #expect(s.minCount == 1 && s.maxCount == 2)
    }
}
