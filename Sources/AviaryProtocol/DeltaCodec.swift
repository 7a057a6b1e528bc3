import AviaryMath

/// The delta encodings' arithmetic (docs/PROTOCOL.md, "Delta encodings"). Pure: no I/O, no
/// state. Encoding runs on a client's training thread; decoding runs on the server's message
/// path and checks everything against the model's `DeltaFormat`, never against sizes from the
/// wire. Top-k's selection and error feedback live in `TopKSparsifier`.
public enum DeltaCodec {
    /// Largest finite binary16 value; larger magnitudes are clamped to it.
    public static let f16Max: Float = 65504

    /// What encoding one delta produced.
    public struct Encoded: Sendable, Equatable {
        public var payload: DeltaPayload
        /// f16 only: coordinates clamped to ±65504.
        public var clamped: Int = 0
    }

    /// How int8 rounds x/scale. Round-to-nearest is biased for any single coordinate (a value
    /// below half a step, |x| < scale/2, always becomes 0, so small coordinates of a tensor with
    /// one large value vanish from every round's update); stochastic rounding rounds up with
    /// probability equal to the fractional part, so E[q·scale] = x (QSGD, Alistarh et al. 2017,
    /// with max-norm scaling). The stream is the client's own for the round, so it is replayable.
    public enum Rounding {
        case nearest
        case stochastic(RandomStream)
    }

    /// Encodes `delta` (finite, `format.parameterCount` values) without error feedback: top-k
    /// here just keeps the k largest (`TopKSparsifier.step` adds the residual). `rounding`
    /// applies to int8 only.
    public static func encode(_ delta: [Float], format: DeltaFormat, rounding: Rounding = .nearest) -> Encoded {
        var rounding = rounding
        precondition(delta.count == format.parameterCount, "delta length \(delta.count) ≠ model \(format.parameterCount)")
        switch format.encoding {
        case .f32:
            return Encoded(payload: .f32(delta))
        case .f16:
            var clamped = 0
            let bits = delta.map { x -> UInt16 in
                if abs(x) > f16Max { clamped += 1; return Float16(x < 0 ? -f16Max : f16Max).bitPattern }
                return Float16(x).bitPattern  // IEEE conversion: round to nearest, ties to even
            }
            return Encoded(payload: .f16(bits), clamped: clamped)
        case .int8:
            var scales: [Float] = []
            scales.reserveCapacity(format.tensorSizes.count)
            var values = [Int8](repeating: 0, count: delta.count)
            var offset = 0
            for size in format.tensorSizes {
                let range = offset..<(offset + size)
                let maxAbs = delta[range].reduce(Float(0)) { max($0, abs($1)) }
                let scale = maxAbs / 127
                scales.append(scale)
                if scale > 0 {
                    switch rounding {
                    case .nearest:
                        for i in range {
                            let q = (delta[i] / scale).rounded(.toNearestOrEven)
                            values[i] = Int8(min(127, max(-127, q)))
                        }
                    case .stochastic(var stream):
                        for i in range {
                            // floor(y + u), u ~ U[0, 1): up with probability frac(y). In Double, so
                            // y + u never rounds up past the next integer.
                            let q = (Double(delta[i] / scale) + stream.nextDouble()).rounded(.down)
                            values[i] = Int8(min(127, max(-127, q)))
                        }
                        rounding = .stochastic(stream)
                    }
                }
                offset += size
            }
            return Encoded(payload: .int8(scales: scales, values: values))
        case .topk:
            let (indices, values) = TopKSparsifier.select(delta, k: format.topkCount)
            return Encoded(payload: .topk(length: delta.count, indices: indices, values: values))
        }
    }

    /// The dense delta a payload stands for, after checking it against the run's `format`:
    /// the encoding, every length against the layout, int8 scales, top-k index bounds and order,
    /// and that every value is finite.
    public static func decode(_ payload: DeltaPayload, format: DeltaFormat) throws(DeltaDecodingError) -> [Float] {
        guard payload.tag == format.encoding.tag else {
            throw .wrongEncoding(got: payload.encodingName, expected: format.encoding.name)
        }
        let n = format.parameterCount
        switch payload {
        case let .f32(v):
            guard v.count == n else { throw .wrongLength(field: "f32 values", got: v.count, expected: n) }
            if let bad = validateFinite(v) { throw .nonFinite(field: "f32 values", position: bad) }
            return v
        case let .f16(bits):
            guard bits.count == n else { throw .wrongLength(field: "f16 values", got: bits.count, expected: n) }
            // Exponent all ones: infinity or NaN (an honest client clamps instead).
            if let bad = bits.firstIndex(where: { $0 & 0x7C00 == 0x7C00 }) { throw .nonFinite(field: "f16 values", position: bad) }
            return bits.map { Float(Float16(bitPattern: $0)) }
        case let .int8(scales, values):
            guard scales.count == format.tensorSizes.count else {
                throw .wrongLength(field: "int8 scales", got: scales.count, expected: format.tensorSizes.count)
            }
            guard values.count == n else { throw .wrongLength(field: "int8 values", got: values.count, expected: n) }
            for (t, s) in scales.enumerated() where !(s.isFinite && s >= 0) { throw .badScale(tensor: t, value: s) }
            if let bad = values.firstIndex(of: -128) { throw .int8OutOfRange(index: bad, value: -128) }
            var out = [Float](repeating: 0, count: n)
            var offset = 0
            for (t, size) in format.tensorSizes.enumerated() {
                let s = scales[t]
                for i in offset..<(offset + size) { out[i] = Float(values[i]) * s }
                offset += size
            }
            // 127 × a finite scale can still overflow (scale near Float.greatestFiniteMagnitude).
            if let bad = validateFinite(out) { throw .nonFinite(field: "int8 values", position: bad) }
            return out
        case let .topk(length, indices, values):
            guard length == n else { throw .wrongLength(field: "top-k dense length", got: length, expected: n) }
            let k = format.topkCount
            guard indices.count == k else { throw .wrongLength(field: "top-k indices", got: indices.count, expected: k) }
            guard values.count == k else { throw .wrongLength(field: "top-k values", got: values.count, expected: k) }
            if let bad = validateFinite(values) { throw .nonFinite(field: "top-k values", position: bad) }
            var out = [Float](repeating: 0, count: n)
            var previous: UInt32? = nil
            for (p, i) in indices.enumerated() {
                guard Int(i) < n else { throw .indexOutOfRange(position: p, index: i, count: n) }
                if let previous, i <= previous { throw .indicesNotIncreasing(position: p, previous: previous, index: i) }
                previous = i
                out[Int(i)] = values[p]
            }
            return out
        }
    }
}

extension DeltaCodec {
    /// One round of f16 or int8 with error feedback (EF-SGD, Karimireddy et al. 2019): the
    /// residual (zero when absent) is added to the delta, that sum is encoded, and what the
    /// encoding lost (sum − decoded) becomes the next residual. The quantisation error then
    /// does not accumulate over rounds: what one round rounds away is sent in a later one.
    public static func feedbackStep(delta: [Float], residual: inout [Float]?, format: DeltaFormat,
                                    rounding: Rounding = .nearest) -> Encoded {
        var accumulated = delta
        if let r = residual {
            precondition(r.count == delta.count, "residual length \(r.count) ≠ delta \(delta.count)")
            for i in 0..<accumulated.count { accumulated[i] += r[i] }
        }
        let encoded = encode(accumulated, format: format, rounding: rounding)
        // A payload this codec just made from finite values always decodes; were it not to, the
        // whole sum stays in the residual rather than losing it.
        let sent = (try? decode(encoded.payload, format: format)) ?? [Float](repeating: 0, count: accumulated.count)
        for i in 0..<accumulated.count { accumulated[i] -= sent[i] }
        residual = accumulated
        return encoded
    }
}
