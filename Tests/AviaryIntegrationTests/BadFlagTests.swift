import Foundation
import Testing

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
