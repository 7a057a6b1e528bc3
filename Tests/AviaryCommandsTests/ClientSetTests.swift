import Foundation
import Testing
import AviaryCommands

/// The client-set formatter and parser behind `--clients` and the launcher's messages.
struct ClientSetTests {
    @Test func largeSetsPrintCompactly() {
        let shard = ClientSet.shard(0, of: 8, clients: 10_000)
        #expect(ClientSet.compact(shard) == "0,8,…,9992 (1,250)")
        #expect(ClientSet.compact(Array(0..<100)) == "0-99 (100)")
        #expect(ClientSet.compact([3]) == "3")
        #expect(ClientSet.compact([1, 3]) == "1,3")
        #expect(ClientSet.compact([5, 1, 3]) == "1,3,5")
        #expect(ClientSet.compact([]) == "none")
        #expect(ClientSet.compact(ClientSet.shard(3, of: 4, clients: 100_000)).count < 40)
    }

    @Test func listsAndRangesParse() throws {
        #expect(try ClientSet.parse("0,4,8") == [0, 4, 8])
        #expect(try ClientSet.parse("0-3,200") == [0, 1, 2, 3, 200])
        #expect(try ClientSet.parse(" 7 ") == [7])
        #expect(throws: ClientSet.ParseError.emptyRange(text: "5-2")) { try ClientSet.parse("5-2") }
        #expect(throws: ClientSet.ParseError.notAnIndex(text: "x")) { try ClientSet.parse("1,x") }
        #expect(throws: ClientSet.ParseError.notAnIndex(text: "-1")) { try ClientSet.parse("-1") }
        #expect(throws: ClientSet.ParseError.notAnIndex(text: "")) { try ClientSet.parse("1,,2") }
    }

    @Test func shardsPartitionTheClients() {
        let shards = (0..<3).map { ClientSet.shard($0, of: 3, clients: 10) }
        #expect(shards[0] == [0, 3, 6, 9])
        #expect(shards.flatMap { $0 }.sorted() == Array(0..<10))
    }

    @Test func countsGroupThousands() {
        #expect(ClientSet.grouped(1_250) == "1,250")
        #expect(ClientSet.grouped(100_000) == "100,000")
        #expect(ClientSet.grouped(999) == "999")
    }
}

/// Index lists that name more clients than a process can host are refused before anything is
/// expanded: `0-5000000000` once tried to allocate 40 GB, and `0-9223372036854775807` trapped.
@Suite struct ClientSetLimitTests {
    @Test func hugeRangesAreRefusedWithoutExpanding() throws {
        let limit = ClientSet.maxHosted
        #expect(limit == 1 << 21)
        #expect(throws: ClientSet.ParseError.tooMany(text: "0-5000000000", count: "5,000,000,001", limit: limit)) {
            try ClientSet.parse("0-5000000000")
        }
        #expect(throws: ClientSet.ParseError.tooMany(text: "0-9223372036854775807", count: "more than 9,223,372,036,854,775,807", limit: limit)) {
            try ClientSet.parse("0-9223372036854775807")
        }
        // The total over several ranges counts, overflow included.
        #expect(throws: ClientSet.ParseError.self) { try ClientSet.parse("1-9223372036854775807,0-9223372036854775806") }
        #expect(throws: ClientSet.ParseError.self) { try ClientSet.parse("0-2000000,3000000-3100000") }
        #expect(try ClientSet.parse("0-\(limit - 1)").count == limit)
        #expect(try ClientSet.parse("5-7,9223372036854775807") == [5, 6, 7, .max])
        #expect("\(ClientSet.ParseError.tooMany(text: "0-5000000000", count: "5,000,000,001", limit: limit))"
                == "'0-5000000000' names 5,000,000,001 clients; one process hosts at most 2,097,152 (the protocol's limit on claims in one HELLO); split them over processes")
    }

    @Test func excludeListsStayRanges() throws {
        let all = ClientSet.merged(try ClientSet.ranges("0-9223372036854775807"))
        #expect(all == [0...Int.max])
        #expect(ClientSet.contains(all, 0) && ClientSet.contains(all, .max))
        let some = ClientSet.merged(try ClientSet.ranges("40-49,3,10-19,20-29,4,100"))
        #expect(some == [3...4, 10...29, 40...49, 100...100])
        #expect((0..<120).filter { ClientSet.contains(some, $0) } == [3, 4] + Array(10...29) + Array(40...49) + [100])
        #expect(ClientSet.merged([]) == [] && !ClientSet.contains([], 0))
    }

    @Test func shardSizesAreCountedNotListed() {
        #expect(ClientSet.shardSize(0, of: 1, clients: 9_000_000_000_000_000_000) == 9_000_000_000_000_000_000)
        #expect(ClientSet.shardSize(3, of: 4, clients: 10) == ClientSet.shard(3, of: 4, clients: 10).count)
        for (i, n, c) in [(0, 3, 10), (2, 3, 10), (0, 1, 1), (5, 8, 6), (6, 8, 6)] {
            #expect(ClientSet.shardSize(i, of: n, clients: c) == ClientSet.shard(i, of: n, clients: c).count, "\(i)/\(n) of \(c)")
        }
    }
}
