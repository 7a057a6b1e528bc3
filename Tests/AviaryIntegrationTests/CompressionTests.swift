import Foundation
import Testing
import AviaryLog
import AviaryProtocol

/// Compressed deltas end to end: real processes negotiate the encoding through WELCOME, the
/// server decodes and merges, and the log attributes the (smaller) bytes to each client.
@Suite(.serialized) struct CompressionTests {
    /// The Harness topology's model: a 60-32-10 MLP.
    static let tensorSizes = [32 * 60, 32, 10 * 32, 10]

    func run(_ name: String, encoding: String, processes: Int = 4, directory: String? = nil) throws -> (log: AggregationLog, checkpoint: Data) {
        let dir = Harness.temporaryDirectory(directory ?? name)
        let topo = dir + "/t.toml"
        try Harness.topology(name: name, output: dir, clients: 4, rounds: 3, processes: processes,
                             extra: "\n[compression]\n\(encoding)\n")
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let result = try Harness.run("aviary", ["run", topo])
        #expect(result.status == 0, "aviary run failed:\n\(result.output)")
        let log = try AggregationLog.read(path: dir + "/\(name)/aggregation.jsonl")
        let checkpoint = try Data(contentsOf: URL(fileURLWithPath: dir + "/\(name)/checkpoints/round-0003.safetensors"))
        return (log, checkpoint)
    }

    @Test func int8AndTopkRunsCompleteWithSmallerPerClientBytes() throws {
        let f32 = try run("cmp-f32", encoding: "encoding = \"f32\"")
        let int8 = try run("cmp-int8", encoding: "encoding = \"int8\"")
        let topk = try run("cmp-topk", encoding: "encoding = \"topk\"\ntopk_fraction = 0.1")
        let encodings: [(AggregationLog, DeltaEncoding)] = [(f32.log, .f32), (int8.log, .int8), (topk.log, .topk(fraction: 0.1))]
        for (log, encoding) in encodings {
            #expect(log.runEnd?.status == "completed")
            #expect(log.runStart?.encoding == encoding.description)
            #expect(log.rounds.count == 3 && log.rounds.allSatisfy { $0.accepted == [0, 1, 2, 3] && $0.rejected.isEmpty })
            for r in log.rounds {
                let traffic = try #require(r.clientTraffic)
                #expect(traffic.keys.sorted() == ["0", "1", "2", "3"])
                #expect(r.bytesUp == traffic.values.reduce(0) { $0 + $1.bytesUp })
                // Four processes, one sampled client each: every process got one MODEL and one TRAIN.
                #expect(r.bytesDown == traffic.values.reduce(0) { $0 + $1.bytesDown })
            }
        }
        let f32Size = DeltaEncoding.f32.encodedSize(tensorSizes: Self.tensorSizes)
        for (log, encoding) in encodings.dropFirst() {
            let size = encoding.encodedSize(tensorSizes: Self.tensorSizes)
            for (r, reference) in zip(log.rounds, f32.log.rounds) {
                for (client, t) in try #require(r.clientTraffic) {
                    let ref = try #require(reference.clientTraffic?[client])
                    // Same metric keys, so the frames differ by exactly the delta field.
                    #expect(ref.bytesUp - t.bytesUp == f32Size - size, "\(encoding) round \(r.round) client \(client)")
                    #expect(t.bytesDown == ref.bytesDown)
                }
            }
        }
        // 2,282 parameters: the delta field shrinks 9,137 → 2,315 bytes (int8) and → 481 (k = 229).
        let upF32 = Double(f32.log.rounds.compactMap(\.bytesUp).reduce(0, +))
        let upInt8 = Double(int8.log.rounds.compactMap(\.bytesUp).reduce(0, +))
        let upTopk = Double(topk.log.rounds.compactMap(\.bytesUp).reduce(0, +))
        #expect(upF32 / upInt8 > 3 && upF32 / upTopk > 3, "f32 \(upF32), int8 \(upInt8), topk \(upTopk)")
        // Lossy encodings still learn; the models differ from f32's.
        for log in [int8.log, topk.log] {
            let acc = try #require(log.rounds.last?.eval?.cleanAccuracy)
            #expect(acc > 0.2, "accuracy \(acc) is not clearly above chance")
        }
        #expect(int8.checkpoint != f32.checkpoint && topk.checkpoint != f32.checkpoint)

        // Error feedback is per client, not per process: one process instead of four (another
        // arrival order, every residual in one place) gives the same model bit for bit.
        // (Same run name: the checkpoint's metadata names the run.)
        let topkOne = try run("cmp-topk", encoding: "encoding = \"topk\"\ntopk_fraction = 0.1", processes: 1, directory: "cmp-topk1")
        #expect(topkOne.checkpoint == topk.checkpoint)
    }
}
