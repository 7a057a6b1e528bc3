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

/// The command lines of issue 24 against the real executables: each is refused at once with
/// a message naming the flag, never a trap, an abort or a hang.
@Suite(.serialized) struct BadFlagTests {
    func refused(_ tool: String, _ args: [String], saying text: String) throws {
        let r = try Harness.run(tool, args, timeout: 60)
        #expect(r.status != 0, "\(tool) \(args) exited 0: \(r.output)")
        #expect(r.status < 128, "\(tool) \(args) died of a signal (\(r.status))")
        #expect(r.output.contains(text), "\(tool) \(args): \(r.output)")
    }

    @Test func aviaryClientRefusesImpossibleIndexSets() throws {
        let connect = ["--connect", "tcp://127.0.0.1:1"]
        try refused("aviary-client", connect + ["--clients", "0-5000000000"], saying: "names 5,000,000,001 clients; one process hosts at most 2,097,152")
        try refused("aviary-client", connect + ["--clients", "0-9223372036854775807"], saying: "one process hosts at most")
        try refused("aviary-client", connect + ["--count", "9000000000000000000"], saying: "--count 9000000000000000000: one process hosts at most")
        try refused("aviary-client", connect + ["--shard", "0/1", "--of", "9000000000000000000"], saying: "share 0 has 9,000,000,000,000,000,000 clients")
        try refused("aviary-client", connect + ["--shard", "0/1", "--of", "9e18"], saying: "--of")
        // Excluding everything is understood without listing it, and leaves nothing to host.
        try refused("aviary-client", connect + ["--shard", "0/2", "--of", "10", "--exclude", "0-9223372036854775807"],
                    saying: "leaves no client to host")
    }

    @Test func badTimeoutsAndPortsAreRefused() throws {
        let connect = ["--connect", "tcp://127.0.0.1:1", "--clients", "0"]
        try refused("aviary-client", connect + ["--server-timeout", "nan"], saying: "--server-timeout nan: give a positive number of seconds")
        try refused("aviary-client", connect + ["--server-timeout=-1"], saying: "--server-timeout -1.0: give a positive number of seconds")
        try refused("aviary-client", connect + ["--server-timeout", "0"], saying: "--server-timeout 0.0")
        let dir = Harness.temporaryDirectory("bad-bind")
        let topo = dir + "/t.toml"
        try Harness.topology(name: "b", output: dir, clients: 1, rounds: 1, processes: 1).write(toFile: topo, atomically: true, encoding: .utf8)
        for bind in ["tcp://127.0.0.1:-1", "tcp://127.0.0.1:65536", "udp://127.0.0.1:5"] {
            try refused("aviary-server", ["--topology", topo, "--bind", bind], saying: "--bind \(bind): expected")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/b"), "nothing is created for a refused bind")
    }

    /// `validate` and `run` read a topology the same way: what one refuses the other does.
    @Test func validateRefusesWhatRunRefuses() throws {
        let dir = Harness.temporaryDirectory("validate-run")
        for (name, extra, key) in [("tl", "train_limit = 0", "train_limit"), ("tn", "train_limit = -5", "train_limit"),
                                   ("st", "partition = \"shards\"\nshards_total = 0", "shards_total")] {
            let topo = dir + "/\(name).toml"
            let text = Harness.topology(name: name, output: dir, clients: 2, rounds: 1, processes: 1)
                .replacingOccurrences(of: "dataset = \"synthetic\"\nalpha = 1.0\nbeta = 1.0",
                                      with: "dataset = \"fashion-mnist\"\n\(extra)")
            try text.write(toFile: topo, atomically: true, encoding: .utf8)
            try refused("aviary", ["validate", topo], saying: "'data.\(key)'")
            try refused("aviary", ["run", topo], saying: "'data.\(key)'")
        }
    }

    /// A run name too long for a directory is blamed on the name, not on `[run].output`.
    @Test func aLongRunNameIsBlamedOnTheName() throws {
        let dir = Harness.temporaryDirectory("long-name")
        let long = String(repeating: "n", count: 300)
        let topo = dir + "/t.toml"
        try Harness.topology(name: long, output: dir, clients: 1, rounds: 1, processes: 1).write(toFile: topo, atomically: true, encoding: .utf8)
        try refused("aviary", ["validate", topo], saying: "'run.name'")
        try refused("aviary", ["run", topo], saying: "'run.name'")
        let short = dir + "/s.toml"
        try Harness.topology(name: "s", output: dir, clients: 1, rounds: 1, processes: 1).write(toFile: short, atomically: true, encoding: .utf8)
        let r = try Harness.run("aviary", ["run", short, "--name", long], timeout: 60)
        #expect(r.status != 0 && r.output.contains("cannot name a run directory; expected at most 240 bytes, not 300"), "\(r.output)")
        #expect(!r.output.contains("[run].output"), "\(r.output)")
    }
}
