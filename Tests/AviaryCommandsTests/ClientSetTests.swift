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
