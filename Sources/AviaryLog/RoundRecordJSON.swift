/// The round record's log line, written directly: the same bytes as `LogCoding.logEncoder()`
/// (snake_case keys in UTF-8 order, no escaped slashes, numbers as Swift prints them) followed by
/// `NonFiniteJSON.nulled`, without Foundation's `JSONEncoder`, which was most of the server's
/// per-update write time (a ~10 KB record per FedBuff update). `RoundRecordJSONTests` compare
/// the two byte for byte over every field and crafted values.
///
/// A record this writer does not reproduce exactly returns nil and goes through `JSONEncoder`:
/// one with a non-finite number (the encoder's sentinels become `null` plus a `non_finite` note)
/// or with a string that `NonFiniteJSON.nulled` would take for a sentinel.
enum RoundRecordJSON {
    static func line(_ record: RoundRecord) -> [UInt8]? {
        var w = JSONBytes()
        w.bytes.reserveCapacity(16_384)
        w.round(record)
        guard w.finite, !w.containsSentinelMarker() else { return nil }
        return w.bytes
    }
}

/// Appends JSON to a byte array the way `JSONEncoder`'s writer does (swift-foundation's
/// `JSONWriter` without pretty printing): keys are written in the order given, so each record
/// type below lists its snake_case keys already sorted by their UTF-8 bytes.
struct JSONBytes {
    var bytes: [UInt8] = []
    /// False once a NaN or infinity was met; the bytes are then incomplete.
    private(set) var finite = true

    // MARK: Containers. A comma goes before every member but a container's first, which is
    // exactly when the last byte is not the opening bracket.

    mutating func open() { bytes.append(UInt8(ascii: "{")) }
    mutating func close() { bytes.append(UInt8(ascii: "}")) }

    /// `"key":`, for keys that need no escaping (the record types' own).
    mutating func key(_ key: StaticString) {
        separate(after: UInt8(ascii: "{"))
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// `"key":` for a dictionary's own key (client indices, metric names): escaped, never converted.
    mutating func dynamicKey(_ key: String) {
        separate(after: UInt8(ascii: "{"))
        string(key)
        bytes.append(UInt8(ascii: ":"))
    }

    private mutating func separate(after opening: UInt8) {
        if bytes.last != opening { bytes.append(UInt8(ascii: ",")) }
    }

    // MARK: Values

    mutating func bool(_ value: Bool) {
        if value { append("true") } else { append("false") }
    }

    mutating func int(_ value: Int) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        let start = bytes.count
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        bytes[start...].reverse()
    }

    /// As `JSONEncoder` writes a finite Double: Swift's shortest round-trip `description`
    /// without a trailing ".0" (`1`, `0.25`, `1e-05`, `-0`, `5e-324`).
    mutating func double(_ value: Double) {
        guard value.isFinite else { finite = false; return }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// A JSON string, escaped as `JSONWriter` escapes: `"` and `\`, the control characters
    /// (`\b \f \n \r \t`, the rest as `\u00xx` in lower-case hex); `/` and non-ASCII as they are.
    mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var start = 0
            for (i, byte) in utf8.enumerated() where byte < 0x20 || byte == 0x22 || byte == 0x5C {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<i]))
                start = i + 1
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case 0x22: bytes.append(UInt8(ascii: "\""))
                case 0x5C: bytes.append(UInt8(ascii: "\\"))
                case 0x08: bytes.append(UInt8(ascii: "b"))
                case 0x0C: bytes.append(UInt8(ascii: "f"))
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                              hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func ints(_ values: [Int]) {
        bytes.append(UInt8(ascii: "["))
        for (i, v) in values.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            int(v)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    mutating func doubles(_ values: [Double]) {
        bytes.append(UInt8(ascii: "["))
        for (i, v) in values.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            double(v)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    mutating func array<T>(_ values: [T], _ element: (inout JSONBytes, T) -> Void) {
        bytes.append(UInt8(ascii: "["))
        for (i, v) in values.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            element(&self, v)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// A `[String: V]` as `JSONEncoder` writes one under `sortedKeys`: keys in the order of
    /// their UTF-8 bytes (so "10" before "2"), not converted to snake_case.
    mutating func object<V>(_ values: [String: V], _ value: (inout JSONBytes, V) -> Void) {
        open()
        for (k, v) in values.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            dynamicKey(k)
            value(&self, v)
        }
        close()
    }

    private mutating func append(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Whether the bytes hold `"aviary.non_finite:`, which `NonFiniteJSON.nulled` would rewrite.
    func containsSentinelMarker() -> Bool {
        let marker = Array(("\"" + NonFiniteJSON.prefix).utf8)
        guard bytes.count >= marker.count else { return false }
        return bytes.withUnsafeBufferPointer { b in
            var i = 0
            let last = b.count - marker.count
            while i <= last {
                if b[i] == marker[0] && b[i + 1] == marker[1] {
                    var j = 2
                    while j < marker.count && b[i + j] == marker[j] { j += 1 }
                    if j == marker.count { return true }
                }
                i += 1
            }
            return false
        }
    }
}

// MARK: The round record and the types inside it, keys in UTF-8 order.

extension JSONBytes {
    mutating func round(_ r: RoundRecord) {
        open()
        key("accepted"); ints(r.accepted)
        if let v = r.bytesDown { key("bytes_down"); int(v) }
        if let v = r.bytesReceived { key("bytes_received"); int(v) }
        if let v = r.bytesSent { key("bytes_sent"); int(v) }
        if let v = r.bytesUp { key("bytes_up"); int(v) }
        if let v = r.checkpoint { key("checkpoint"); string(v) }
        if let v = r.checkpointBytes { key("checkpoint_bytes"); int(v) }
        if let v = r.checkpointCrc32 { key("checkpoint_crc32"); string(v) }
        key("client_metrics"); object(r.clientMetrics) { w, m in w.object(m) { $0.double($1) } }
        if let v = r.clientTraffic { key("client_traffic"); object(v) { $0.traffic($1) } }
        if let v = r.clipped { key("clipped"); object(v) { $0.double($1) } }
        key("duration_seconds"); double(r.durationSeconds)
        if let v = r.eval { key("eval"); evaluation(v) }
        key("event"); string(r.event)
        key("failed"); array(r.failed) { $0.reason($1) }
        if let v = r.fairness { key("fairness"); fairness(v) }
        if let v = r.fallbacks { key("fallbacks"); array(v) { $0.reason($1) } }
        if let v = r.keptReason { key("kept_reason"); string(v) }
        if let v = r.lost { key("lost"); ints(v) }
        key("model_kept"); bool(r.modelKept)
        if let v = r.persistSeconds { key("persist_seconds"); double(v) }
        if let v = r.privacy { key("privacy"); privacy(v) }
        key("rejected"); array(r.rejected) { $0.reason($1) }
        key("round"); int(r.round)
        key("sampled"); ints(r.sampled)
        if let v = r.secagg { key("secagg"); secAgg(v) }
        if let v = r.serverRssBytes { key("server_rss_bytes"); int(v) }
        if let v = r.serverSeconds { key("server_seconds"); double(v) }
        if let v = r.system { key("system"); system(v) }
        key("time"); string(r.time)
        key("timed_out"); ints(r.timedOut)
        key("update_norm"); double(r.updateNorm)
        key("weights"); object(r.weights) { $0.double($1) }
        close()
    }

    mutating func reason(_ r: ClientReason) {
        open()
        if let v = r.category { key("category"); string(v) }
        key("client"); int(r.client)
        key("reason"); string(r.reason)
        close()
    }

    mutating func traffic(_ t: ClientTraffic) {
        open()
        key("bytes_down"); int(t.bytesDown)
        key("bytes_up"); int(t.bytesUp)
        close()
    }

    mutating func evaluation(_ e: Evaluation) {
        open()
        if let v = e.attack { key("attack"); string(v) }
        key("clean_accuracy"); double(e.cleanAccuracy)
        key("clean_loss"); double(e.cleanLoss)
        if let v = e.clients { key("clients"); object(v) { w, m in w.object(m) { $0.double($1) } } }
        if let v = e.missing { key("missing"); ints(v) }
        if let v = e.mode { key("mode"); string(v) }
        if let v = e.refused { key("refused"); array(v) { $0.reason($1) } }
        if let v = e.robustAccuracy { key("robust_accuracy"); double(v) }
        if let v = e.robustSamples { key("robust_samples"); int(v) }
        key("samples"); int(e.samples)
        if let v = e.validationLoss { key("validation_loss"); double(v) }
        if let v = e.validationSamples { key("validation_samples"); int(v) }
        close()
    }

    mutating func fairness(_ f: Fairness) {
        open()
        key("clients"); int(f.clients)
        key("mean"); double(f.mean)
        key("min"); double(f.min)
        key("std"); double(f.std)
        key("worst10_mean"); double(f.worst10Mean)
        close()
    }

    mutating func system(_ s: SystemRoundRecord) {
        open()
        if let v = s.buffered { key("buffered"); buffered(v) }
        if let v = s.busy { key("busy"); ints(v) }
        key("clock_seconds"); double(s.clockSeconds)
        if let v = s.offline { key("offline"); ints(v) }
        key("offline_count"); int(s.offlineCount)
        key("round_seconds"); double(s.roundSeconds)
        if let v = s.staleMerged { key("stale_merged"); array(v) { $0.staleMerged($1) } }
        key("stragglers"); ints(s.stragglers)
        close()
    }

    mutating func staleMerged(_ u: StaleMergedUpdate) {
        open()
        key("client"); int(u.client)
        key("from_round"); int(u.fromRound)
        key("scale"); double(u.scale)
        close()
    }

    mutating func buffered(_ b: BufferedUpdateRecord) {
        open()
        if let v = b.clock { key("clock"); string(v) }
        key("clock_seconds"); double(b.clockSeconds)
        if let v = b.discarded { key("discarded"); array(v) { $0.bufferedEntry($1) } }
        key("updates"); array(b.updates) { $0.bufferedEntry($1) }
        key("version"); int(b.version)
        close()
    }

    mutating func bufferedEntry(_ e: BufferedUpdateEntry) {
        open()
        key("arrival"); double(e.arrival)
        key("client"); int(e.client)
        key("discount"); double(e.discount)
        if let v = e.missing { key("missing"); string(v) }
        key("staleness"); int(e.staleness)
        key("start_version"); int(e.startVersion)
        if let v = e.weight { key("weight"); double(v) }
        close()
    }

    mutating func privacy(_ p: PrivacyRoundRecord) {
        open()
        if let v = p.clientEpsilon { key("client_epsilon"); object(v) { $0.double($1) } }
        key("clip_norm"); double(p.clipNorm)
        key("delta"); double(p.delta)
        if let v = p.epsilon { key("epsilon"); double(v) }
        key("mode"); string(p.mode)
        if let v = p.nextClipNorm { key("next_clip_norm"); double(v) }
        if let v = p.noiseStd { key("noise_std"); double(v) }
        if let v = p.noisedUnclipped { key("noised_unclipped"); double(v) }
        if let v = p.unaccounted { key("unaccounted"); string(v) }
        if let v = p.unclipped { key("unclipped"); int(v) }
        close()
    }

    mutating func secAgg(_ s: SecAggRoundRecord) {
        open()
        key("clipping_range"); double(s.clippingRange)
        if let v = s.dropped { key("dropped"); object(v) { $0.string($1) } }
        if let v = s.failure { key("failure"); string(v) }
        key("modulus_bits"); int(s.modulusBits)
        if let v = s.neighbours { key("neighbours"); int(v) }
        key("participants"); int(s.participants)
        key("quantization_bits"); int(s.quantizationBits)
        key("stage_bytes_down"); ints(s.stageBytesDown)
        key("stage_bytes_up"); ints(s.stageBytesUp)
        key("stage_seconds"); doubles(s.stageSeconds)
        key("survivors"); ints(s.survivors)
        if let v = s.threshold { key("threshold"); int(v) }
        if let v = s.weightTotal { key("weight_total"); double(v) }
        close()
    }
}
