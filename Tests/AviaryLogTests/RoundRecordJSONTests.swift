import AviaryMath
import Foundation
import Testing
@testable import AviaryLog

/// The round record's own writer (`RoundRecordJSON`) against the reference it replaces:
/// `JSONEncoder` with the log's settings, then `NonFiniteJSON.nulled`. Every comparison is of
/// bytes; records the writer declines (non-finite numbers, sentinel-like strings) must come out
/// of `AggregationLogWriter` exactly as the reference writes them too.
@Suite struct RoundRecordJSONTests {
    static func reference(_ record: RoundRecord) throws -> [UInt8] {
        Array(try AggregationLogWriter.encoded(.round(record), encoder: LogCoding.logEncoder()))
    }

    /// The fast line equals the reference, and the record reads back.
    static func expectSameBytes(_ record: RoundRecord, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let fast = try #require(RoundRecordJSON.line(record), "the writer declined a finite record", sourceLocation: sourceLocation)
        let expected = try reference(record)
        #expect(fast == expected, "\n  fast: \(String(decoding: fast, as: UTF8.self))\n   ref: \(String(decoding: expected, as: UTF8.self))",
                sourceLocation: sourceLocation)
    }

    /// What `AggregationLogWriter.append` puts in the file, line by line.
    static func written(_ records: [RoundRecord]) throws -> [UInt8] {
        let dir = try SafetensorsTestDirectory()
        let path = dir.file("aggregation.jsonl")
        let writer = try AggregationLogWriter(path: path)
        writer.syncEachRecord = false
        for r in records { try writer.append(.round(r)) }
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(writer.position.bytes == bytes.count && writer.position.records == records.count)
        return bytes
    }

    /// The reference lines of `records`, as the log holds them.
    static func referenceLines(_ records: [RoundRecord]) throws -> [UInt8] {
        var bytes: [UInt8] = []
        for r in records { bytes += try reference(r) + [0x0A] }
        return bytes
    }

    static func minimal() -> RoundRecord {
        RoundRecord(round: 1, time: "2026-12-07T06:00:00.000Z", durationSeconds: 0.5, sampled: [], accepted: [],
                    rejected: [], failed: [], timedOut: [], weights: [:], clientMetrics: [:], updateNorm: 0,
                    eval: nil, checkpoint: nil, modelKept: true)
    }

    /// Every field of every type in a round record set, none nil (checked below, so a field
    /// added later without a value here fails the suite rather than going untested).
    static func full() -> RoundRecord {
        var eval = Evaluation(cleanAccuracy: 0.8598, cleanLoss: 0.38956199295385663, samples: 10000, robustAccuracy: 0.25,
                              robustSamples: 512, attack: "pgd(eps=0.03, steps=10)", validationLoss: 0.5, validationSamples: 1000)
        eval.mode = "federated"
        eval.clients = ["3": ["accuracy": 0.5, "loss": 1.25, "samples": 40], "12": ["accuracy": 1, "loss": 0, "samples": 7]]
        eval.refused = [ClientReason(client: 9, reason: "no samples")]
        eval.missing = [4, 11]
        var r = RoundRecord(round: 140, time: "2026-12-07T06:46:54.903Z", durationSeconds: 0.0888, sampled: [3, 12, 24, 100],
                            accepted: [3, 12], rejected: [ClientReason(client: 24, reason: "norm 9.5 > 3 × median")],
                            failed: [ClientReason(client: 100, reason: "out of memory")], timedOut: [7],
                            weights: ["3": 0.25, "12": 0.75],
                            clientMetrics: ["3": ["samples": 318, "train_loss": 2.0769550578211837, "global_val_accuracy": 0.5],
                                            "12": ["samples": 668, "train_loss": 2.012912007539483, "global_val_accuracy": 0.75]],
                            updateNorm: 0.13, eval: eval, checkpoint: "checkpoints/round-00140.safetensors", modelKept: false)
        r.rejected[0].category = "norm_bound"
        r.failed[0].category = "client_error"
        r.eval?.refused?[0].category = "no_samples"
        r.checkpointBytes = 797_184
        r.checkpointCrc32 = "0a1b2c3d"
        r.lost = [5]
        r.bytesSent = 3_187_848
        r.bytesReceived = 23_117_437
        r.serverSeconds = 0.00217
        r.persistSeconds = 0.00122
        var fallback = ClientReason(client: 12, reason: "missing train_loss")
        fallback.category = "missing_metric"
        r.fallbacks = [fallback]
        r.serverRssBytes = 123_456_789
        r.clientTraffic = ["3": ClientTraffic(bytesUp: 797_300, bytesDown: 797_500), "12": ClientTraffic(bytesUp: 0, bytesDown: 1)]
        r.bytesUp = 797_300
        r.bytesDown = 3_187_848
        var system = SystemRoundRecord(roundSeconds: 4.25, clockSeconds: 3015.9, offline: [1, 2], stragglers: [24],
                                       staleMerged: [StaleMergedUpdate(client: 8, fromRound: 138, scale: 0.57735026918962584)],
                                       busy: [30, 31])
        var buffered = BufferedUpdateRecord(
            version: 140, clockSeconds: 3015.9,
            updates: [BufferedUpdateEntry(client: 3, startVersion: 138, arrival: 3010.5, staleness: 2, discount: 0.57735026918962584,
                                          weight: 0.25, missing: "its process was lost")],
            discarded: [BufferedUpdateEntry(client: 40, startVersion: 100, arrival: 3001, staleness: 40, discount: 0.156,
                                            weight: 0, missing: "stale")])
        buffered.clock = "wall"
        system.buffered = buffered
        r.system = system
        r.clipped = ["3": 12.5]
        r.keptReason = "the server step would make global[3] inf; step not applied, global model kept"
        var privacy = PrivacyRoundRecord(mode: "central", epsilon: 1.5, delta: 1e-5, clipNorm: 1)
        privacy.nextClipNorm = 0.9
        privacy.noiseStd = 0.011
        privacy.unclipped = 7
        privacy.noisedUnclipped = 6.8
        privacy.unaccounted = "fixed-size sampling of a subset"
        privacy.clientEpsilon = ["3": 0.5, "12": 0.25]
        r.privacy = privacy
        var secagg = SecAggRoundRecord(participants: 4, neighbours: 3, threshold: 2, clippingRange: 8, quantizationBits: 16,
                                       modulusBits: 32, survivors: [4, 4, 3, 3], stageBytesUp: [100, 200, 3_000_000, 50],
                                       stageBytesDown: [400, 800, 0, 60], stageSeconds: [0.5, 0.012, 1e-5, 0])
        secagg.weightTotal = 1024
        secagg.failure = "fewer than t survivors"
        secagg.dropped = ["2": "sent shares twice"]
        r.secagg = secagg
        return r
    }

    /// Paths of nil values anywhere in `value` (optionals inside structs, arrays and dictionaries).
    static func nilPaths(_ value: Any, path: String = "") -> [String] {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let wrapped = mirror.children.first?.value else { return [path] }
            return nilPaths(wrapped, path: path)
        }
        var found: [String] = []
        for (i, child) in mirror.children.enumerated() {
            found += nilPaths(child.value, path: path + "." + (child.label ?? "\(i)"))
        }
        return found
    }

    @Test func everyFieldIsWrittenAsJSONEncoderWritesIt() throws {
        let record = Self.full()
        #expect(Self.nilPaths(record).isEmpty, "fields left nil in the fixture: \(Self.nilPaths(record))")
        try Self.expectSameBytes(record)
        // Every field reads back, server_rss_bytes included (it did not while the property was
        // spelt `serverRSSBytes`: the reader's snake_case conversion looks for `serverRssBytes`).
        #expect(try AggregationLog.parse(Data(Self.written([record])), path: "x").rounds == [record])
    }

    @Test func absentOptionalsAndEmptyContainers() throws {
        try Self.expectSameBytes(Self.minimal())
        var r = Self.full()
        r.eval?.clients = [:]
        r.eval?.refused = []
        r.eval?.missing = []
        r.clientTraffic = [:]
        r.system?.offline = nil
        r.system?.buffered?.updates = []
        r.system?.buffered?.discarded = nil
        r.secagg?.stageSeconds = []
        r.clientMetrics = ["0": [:]]
        try Self.expectSameBytes(r)
    }

    static let doubles: [Double] = [
        0, -0.0, 1, -1, 2, 0.5, 0.1, 0.2, 0.3, 1.0 / 3, 2.0 / 3, 100, 1e-5, 1e-4, 0.001, 12345.678,
        1e15, 1e16, 1e17, 1e21, 1e22, 1e23, 123456789012345680, 9007199254740992, 9007199254740994,
        .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNormalMagnitude, .leastNonzeroMagnitude,
        -.leastNonzeroMagnitude, .leastNormalMagnitude / 3, .leastNonzeroMagnitude * 3, Double(bitPattern: 0x000F_FFFF_FFFF_FFFF), .ulpOfOne, 1 + .ulpOfOne, .pi, -1e-300, 1e300,
        0.38956199295385663, 3015.9, 0.0888, 5e-7, 1.5e-7, 6.02214076e23,
    ]

    @Test func doublesOfEveryMagnitudeAreWrittenAsJSONEncoderWritesThem() throws {
        var rng = RandomStream(seed: 23)
        var values = Self.doubles
        for _ in 0..<3000 {
            // Random bit patterns: every exponent, subnormals included; non-finite ones skipped here.
            let d = Double(bitPattern: rng.next())
            if d.isFinite { values.append(d) }
        }
        for _ in 0..<500 { values.append(Double.random(in: 0..<1, using: &rng)) }
        for (i, chunk) in stride(from: 0, to: values.count, by: 50).map({ Array(values[$0..<min($0 + 50, values.count)]) }).enumerated() {
            var r = Self.full()
            r.updateNorm = chunk[0]
            r.durationSeconds = chunk[chunk.count - 1]
            r.weights = Dictionary(uniqueKeysWithValues: chunk.enumerated().map { (String($0.offset), $0.element) })
            r.clientMetrics = ["\(i)": Dictionary(uniqueKeysWithValues: chunk.enumerated().map { ("m\($0.offset)", $0.element) })]
            r.secagg?.stageSeconds = chunk
            r.system?.buffered?.updates[0].discount = chunk[1 % chunk.count]
            r.eval?.cleanLoss = chunk[2 % chunk.count]
            r.privacy?.delta = chunk[3 % chunk.count]
            try Self.expectSameBytes(r)
        }
    }

    @Test func integersAtTheirLimits() throws {
        var r = Self.full()
        r.round = Int.max
        r.sampled = [0, 1, 9, 10, 99, 100, -1, -10, Int.min, Int.max, 1_000_000_007]
        r.bytesSent = Int.min
        r.checkpointBytes = 0
        r.eval?.samples = -42
        try Self.expectSameBytes(r)
    }

    static let strings: [String] = [
        "", "plain", "quote \" inside", "back\\slash", "slash / and http://x/y", "\u{7F} delete",
        String((0..<32).map { Character(Unicode.Scalar(UInt8($0))) }), "tab\tnew\nline\rret\u{8}bs\u{C}ff",
        "é accents, 漢字, 🦜 parrot, e\u{301} combining, \u{2028} line separator, \u{FEFF} bom",
        "aviary.non_finite without a quote before it", "10", "2", "a_b", "aB", "A", "_",
    ]

    @Test func stringsAndKeysNeedingEscapesAreWrittenAsJSONEncoderWritesThem() throws {
        for s in Self.strings {
            var r = Self.full()
            r.time = s
            r.checkpoint = s
            r.keptReason = s
            r.failed = [ClientReason(client: 1, reason: s)]
            r.eval?.attack = s
            r.privacy?.mode = s
            r.secagg?.dropped = [s: s, "x" + s: "y"]
            // Dictionary keys: sorted by their UTF-8 bytes, never converted to snake_case.
            r.weights = Dictionary([(s, 1), (s + "Upper", 2), ("trainLoss", 3), ("10", 4), ("9", 5)], uniquingKeysWith: { a, _ in a })
            r.clientMetrics = [s: [s: 1, "camelCase": 2]]
            try Self.expectSameBytes(r)
        }
    }

    @Test func manyRandomRecords() throws {
        var rng = RandomStream(seed: 2313)
        func pick<T>(_ values: [T]) -> T { values[Int.random(in: 0..<values.count, using: &rng)] }
        var records: [RoundRecord] = []
        for n in 0..<200 {
            var r = Bool.random(using: &rng) ? Self.full() : Self.minimal()
            r.round = n
            r.sampled = (0..<Int.random(in: 0...30, using: &rng)).map { _ in Int.random(in: 0...100_000, using: &rng) }
            r.accepted = r.sampled.sorted()
            r.weights = Dictionary(r.accepted.map { (String($0), pick(Self.doubles)) }, uniquingKeysWith: { a, _ in a })
            r.clientMetrics = Dictionary(r.accepted.map { (String($0), ["samples": Double(Int.random(in: 1...900, using: &rng)),
                                                                         "train_loss": pick(Self.doubles), pick(Self.strings): 1]) },
                                         uniquingKeysWith: { a, _ in a })
            if Bool.random(using: &rng) { r.keptReason = pick(Self.strings) }
            if Bool.random(using: &rng) { r.eval = nil }
            if Bool.random(using: &rng) { r.system?.buffered = nil }
            try Self.expectSameBytes(r)
            records.append(r)
        }
        let expected = try Self.referenceLines(records)
        #expect(try Self.written(records) == expected)
    }

    @Test func nonFiniteNumbersGoThroughJSONEncoderAndItsNote() throws {
        var cases: [RoundRecord] = []
        for bad in [Double.nan, .infinity, -.infinity] {
            var r = Self.full(); r.updateNorm = bad; cases.append(r)
            r = Self.full(); r.clientMetrics["3"]?["train_loss"] = bad; cases.append(r)
            r = Self.full(); r.eval?.cleanLoss = bad; cases.append(r)
            r = Self.full(); r.secagg?.stageSeconds = [1, bad]; cases.append(r)
            r = Self.full(); r.system?.buffered?.updates[0].weight = bad; cases.append(r)
            r = Self.full(); r.weights["12"] = bad; cases.append(r)
        }
        for r in cases { #expect(RoundRecordJSON.line(r) == nil) }
        let written = try Self.written(cases)
        #expect(written == (try Self.referenceLines(cases)))
        #expect(String(decoding: written, as: UTF8.self).components(separatedBy: "\"non_finite\":").count == cases.count + 1)
    }

    @Test func stringsThatLookLikeSentinelsGoThroughJSONEncoder() throws {
        var cases: [RoundRecord] = []
        for s in [NonFiniteJSON.sentinel("inf"), NonFiniteJSON.prefix, "x\"" + NonFiniteJSON.prefix] {
            var r = Self.full(); r.keptReason = s; cases.append(r)
            r = Self.full(); r.weights = [s: 1]; cases.append(r)
        }
        for r in cases { #expect(RoundRecordJSON.line(r) == nil) }
        #expect(try Self.written(cases) == (try Self.referenceLines(cases)))
    }
}
