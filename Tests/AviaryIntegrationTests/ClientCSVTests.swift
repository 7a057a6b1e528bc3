import Foundation
import Testing
import AviaryLog

/// `aviary logs --clients --csv` on a tiny run that samples 3 of 6 clients a round.
struct ClientCSVTests {
    @Test func oneRowPerSampledClientPerRoundWithWeightsSummingToOne() throws {
        let dir = Harness.temporaryDirectory("clientcsv")
        let topo = dir + "/t.toml"
        try Harness.topology(name: "cc", output: dir, clients: 6, rounds: 3, processes: 2, server: "clients_per_round = 3")
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let run = try Harness.run("aviary", ["run", topo])
        #expect(run.status == 0, "\(run.output)")
        let log = try AggregationLog.read(path: dir + "/cc/aggregation.jsonl")
        let out = try Harness.run("aviary", ["logs", dir + "/cc", "--clients", "--csv"])
        #expect(out.status == 0, "\(out.output)")
        let lines = out.output.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = try #require(lines.first)
        #expect(Array(header.prefix(4)) == ["round", "client", "samples", "dataset_size"])
        #expect(Array(header.suffix(5)) == ["bytes_up", "bytes_down", "weight", "status", "reason"])
        let metrics = Array(header.dropFirst(4).dropLast(5))
        #expect(metrics == metrics.sorted() && metrics.contains("train_loss"), "\(metrics)")
        let rows = lines.dropFirst()
        #expect(rows.allSatisfy { $0.count == header.count })
        let column = Dictionary(uniqueKeysWithValues: header.enumerated().map { ($1, $0) })
        for r in log.rounds {
            let mine = rows.filter { Int($0[0]) == r.round }
            #expect(mine.map { Int($0[1])! } == r.sampled, "round \(r.round)")
            let total = mine.compactMap { Double($0[column["weight"]!]) }.reduce(0, +)
            #expect(abs(total - 1) < 1e-9, "round \(r.round) weights sum to \(total)")
            for row in mine {
                let traffic = try #require(r.clientTraffic?[row[1]], "round \(r.round) client \(row[1]) has no traffic in the log")
                #expect(Int(row[column["bytes_up"]!]) == traffic.bytesUp && Int(row[column["bytes_down"]!]) == traffic.bytesDown)
                #expect(traffic.bytesUp > 0 && traffic.bytesDown > 0, "every sampled client answered and downloaded")
            }
            for row in mine where row[column["status"]!] == "accepted" {
                #expect(Double(row[column["train_loss"]!]) == r.clientMetrics[row[1]]?["train_loss"])
                #expect(Int(row[column["dataset_size"]!]) != nil)
            }
        }
        #expect(rows.count == log.rounds.reduce(0) { $0 + $1.sampled.count } && rows.count == 9)

        // A log written before per-client traffic was logged: the byte columns are there, empty.
        let old = dir + "/old"
        try FileManager.default.createDirectory(atPath: old, withIntermediateDirectories: true)
        let text = try String(contentsOfFile: dir + "/cc/aggregation.jsonl", encoding: .utf8)
        let stripped = try text.split(separator: "\n").map { line -> String in
            var object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            object["client_traffic"] = nil
            return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        }.joined(separator: "\n") + "\n"
        try stripped.write(toFile: old + "/aggregation.jsonl", atomically: true, encoding: .utf8)
        let older = try Harness.run("aviary", ["logs", old, "--clients", "--csv"])
        #expect(older.status == 0, "\(older.output)")
        let oldRows = older.output.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(oldRows.count == 9 && oldRows.allSatisfy { $0.count == header.count })
        #expect(oldRows.allSatisfy { $0[column["bytes_up"]!].isEmpty && $0[column["bytes_down"]!].isEmpty })
    }
}
