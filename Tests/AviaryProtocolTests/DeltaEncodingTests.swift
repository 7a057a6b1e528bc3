import Testing
import AviaryMath
import AviaryProtocol

/// The delta encodings: error bounds, top-k's selection and error feedback, the wire, and the
/// server-side checks that make a malformed encoded delta a rejected update.
@Suite struct DeltaEncodingTests {
    static let sizes = [50, 7, 300, 3]
    static let n = sizes.reduce(0, +)

    /// Deltas of several magnitudes per tensor, with exact ties and zeros.
    static func delta(seed: UInt64, scale: Float = 1e-2) -> [Float] {
        var rng = RandomStream(seed: seed, purpose: .other, index: 0)
        var v = (0..<n).map { i in Float(rng.uniform(-1, 1)) * scale * Float(1 + i % 5) }
        v[3] = 0; v[60] = v[61]; v[62] = -v[61]
        return v
    }

    func format(_ e: DeltaEncoding) -> DeltaFormat { DeltaFormat(encoding: e, tensorSizes: Self.sizes) }

    // MARK: Rounding of int8

    /// The bias the default has and stochastic rounding removes: one tensor holding a large value
    /// (scale = 1/127) and small ones at 0.3 steps. Round-to-nearest sends 0 for every small one in
    /// every round; stochastic rounding's mean over many rounds is the value itself.
    @Test func int8NearestIsBiasedPerCoordinateAndStochasticIsNot() throws {
        let f = DeltaFormat(encoding: .int8, tensorSizes: [4])
        let step: Float = 1.0 / 127
        let delta: [Float] = [1, 0.3 * step, -0.3 * step, 2.6 * step]
        let nearest = try DeltaCodec.decode(DeltaCodec.encode(delta, format: f).payload, format: f)
        #expect(nearest[1] == 0 && nearest[2] == 0 && abs(nearest[3] - 3 * step) < 1e-7)
        var sums = [Double](repeating: 0, count: 4)
        let rounds = 20_000
        for r in 0..<rounds {
            let stream = QuantisationOptions.roundingStream(trainingSeed: 5, client: 1, round: r)
            let out = try DeltaCodec.decode(DeltaCodec.encode(delta, format: f, rounding: .stochastic(stream)).payload, format: f)
            for i in 0..<4 {
                // Each value is one of the two neighbouring steps, never further.
                #expect(abs(Double(out[i]) - Double(delta[i])) < Double(step) * 1.0001)
                sums[i] += Double(out[i])
            }
        }
        // Mean within 4 standard errors (a Bernoulli step: sd ≤ step/2) of the value.
        let tolerance = 4 * Double(step) / 2 / Double(rounds).squareRoot()
        for i in 0..<4 { #expect(abs(sums[i] / Double(rounds) - Double(delta[i])) < tolerance, "coordinate \(i): \(sums[i] / Double(rounds))") }
        // The max stays exact (y = ±127 is an integer) and the stream decides: same stream, same bytes.
        let s1 = QuantisationOptions.roundingStream(trainingSeed: 5, client: 1, round: 3)
        let a = DeltaCodec.encode(delta, format: f, rounding: .stochastic(s1)).payload
        #expect(DeltaCodec.encode(delta, format: f, rounding: .stochastic(s1)).payload == a)
        guard case let .int8(_, values) = a else { Issue.record("not int8"); return }
        #expect(values[0] == 127)
    }

    // MARK: Error bounds

    @Test func f16RelativeErrorInNormalRangeAndClamping() throws {
        var v = [Float](repeating: 0, count: Self.n)
        for i in 0..<Self.n {
            let sign: Float = i % 2 == 0 ? 1 : -1
            v[i] = Float(i + 1) * 0.37 * sign
        }
        v[0] = 1e5; v[1] = -7e4; v[2] = 65504; v[3] = Float(1.0 / 16384)  // 2^-14: smallest normal
        let f = format(.f16)
        let encoded = DeltaCodec.encode(v, format: f)
        #expect(encoded.clamped == 2)
        let back = try DeltaCodec.decode(encoded.payload, format: f)
        #expect(back[0] == 65504 && back[1] == -65504 && back[2] == 65504)
        for i in 2..<Self.n {
            let bound: Float = abs(v[i]) * 0x1p-11
            #expect(abs(back[i] - v[i]) <= bound, "index \(i)")
        }
        // Ties go to even: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10.
        let tie = DeltaCodec.encode([1 + 0x1p-11] + [Float](repeating: 0, count: Self.n - 1), format: f)
        #expect(try DeltaCodec.decode(tie.payload, format: f)[0] == 1)
    }

    @Test func int8ErrorIsAtMostHalfAScalePerCoordinate() throws {
        let v = Self.delta(seed: 1)
        let f = format(.int8)
        guard case let .int8(scales, values) = DeltaCodec.encode(v, format: f).payload else { Issue.record("not int8"); return }
        #expect(scales.count == Self.sizes.count)
        #expect(values.allSatisfy { $0 >= -127 })
        let back = try DeltaCodec.decode(.int8(scales: scales, values: values), format: f)
        var offset = 0
        for (t, size) in Self.sizes.enumerated() {
            let maxAbs = v[offset..<offset + size].map { abs($0) }.max()!
            #expect(scales[t] == maxAbs / 127)
            for i in offset..<offset + size {
                // scale/2, plus the two float roundings of x / scale and q · scale (≤ 2^-16 scale).
                #expect(abs(back[i] - v[i]) <= scales[t] * (0.5 + 0x1p-16), "tensor \(t) index \(i)")
            }
            offset += size
        }
        // An all-zero tensor has scale 0 and decodes to zeros.
        var z = v
        for i in 50..<57 { z[i] = 0 }
        guard case let .int8(zs, _) = DeltaCodec.encode(z, format: f).payload else { Issue.record("not int8"); return }
        #expect(zs[1] == 0)
        #expect(try DeltaCodec.decode(DeltaCodec.encode(z, format: f).payload, format: f)[50..<57].allSatisfy { $0 == 0 })
    }

    @Test func int8RoundsHalfToEven() throws {
        // Tensor 0's max is 127, so its scale is exactly 1: 2.5 → 2, 3.5 → 4, -2.5 → -2.
        var v = [Float](repeating: 0, count: Self.n)
        v[0] = 127; v[1] = 2.5; v[2] = 3.5; v[3] = -2.5
        guard case let .int8(scales, values) = DeltaCodec.encode(v, format: format(.int8)).payload else { Issue.record("not int8"); return }
        #expect(scales[0] == 1)
        #expect(Array(values[0..<4]) == [127, 2, 4, -2])
    }

    @Test func topkKeepsExactlyTheKLargestAndZerosTheRest() throws {
        let v = Self.delta(seed: 2)
        let f = format(.topk(fraction: 0.05))
        let k = f.topkCount
        #expect(k == 18)  // ⌈0.05 · 360⌉
        let back = try DeltaCodec.decode(DeltaCodec.encode(v, format: f).payload, format: f)
        let kept = (0..<Self.n).filter { back[$0] != 0 }
        #expect(kept.count == k)
        // The reference order: |x| descending, then index ascending.
        let expected = (0..<Self.n).sorted { abs(v[$0]) != abs(v[$1]) ? abs(v[$0]) > abs(v[$1]) : $0 < $1 }.prefix(k).sorted()
        #expect(kept == Array(expected))
        for i in 0..<Self.n { #expect(back[i] == (expected.contains(i) ? v[i] : 0)) }
    }

    @Test func topkBreaksTiesByLowerIndex() {
        let v: [Float] = [1, -3, 2, 3, -3, 0, 3]
        let (indices, values) = TopKSparsifier.select(v, k: 3)
        #expect(indices == [1, 3, 4])
        #expect(values == [-3, 3, -3])
        #expect(TopKSparsifier.select([0, -0.0, 0], k: 2).indices == [0, 1])
        #expect(TopKSparsifier.select(v, k: 7).indices == Array(0..<7))
        #expect(DeltaEncoding.topkCount(fraction: 1e-9, count: 10) == 1)
        #expect(DeltaEncoding.topkCount(fraction: 1, count: 10) == 10)
    }

    @Test func errorFeedbackIdentityHoldsBitwiseOverRounds() {
        let k = 20
        var residual: [Float]? = nil
        for round in 0..<6 {
            let delta = Self.delta(seed: 10 + UInt64(round))
            let old = residual ?? [Float](repeating: 0, count: Self.n)
            guard case let .topk(length, indices, values) = TopKSparsifier.step(delta: delta, residual: &residual, k: k) else {
                Issue.record("not top-k"); return
            }
            #expect(length == Self.n && indices.count == k)
            var sent = [Float](repeating: 0, count: Self.n)
            for (i, x) in zip(indices, values) { sent[Int(i)] = x }
            let new = residual!
            for i in 0..<Self.n {
                // sent + new residual == delta + old residual, in f32, bit for bit.
                #expect((sent[i] + new[i]).bitPattern == (delta[i] + old[i]).bitPattern, "round \(round) index \(i)")
                #expect(sent[i] == 0 || new[i] == 0)
            }
        }
        // The residual carries: a coordinate never sent keeps accumulating.
        #expect(residual!.contains { $0 != 0 })
    }

    // MARK: The wire

    @Test(arguments: [DeltaEncoding.f32, .f16, .int8, .topk(fraction: 0.1)])
    func updateRoundTripsThroughTheWire(_ encoding: DeltaEncoding) throws {
        let f = format(encoding)
        let v = Self.delta(seed: 3)
        let payload = DeltaCodec.encode(v, format: f).payload
        let message = Message.update(UpdateMessage(round: 4, clientIndex: 9, token: 77, samples: 12,
                                                   metrics: ["train_loss": 0.5], payload: payload))
        let bytes = WireCodec.encode(message)
        // The pure size function agrees with the codec: 44 fixed bytes + metrics + delta field.
        #expect(bytes.count == 44 + (8 + 8 + 10 + 8) + f.encodedSize)
        #expect(WireCodec.encodedSize(message) == bytes.count)
        guard case let .update(u) = try WireCodec.decode(bytes) else { Issue.record("not an UPDATE"); return }
        #expect(u.payload == payload && u.round == 4 && u.clientIndex == 9 && u.token == 77)
        #expect(try DeltaCodec.decode(u.payload, format: f) == DeltaCodec.decode(payload, format: f))
    }

    @Test func encodedSizesShrinkByTheExpectedFactor() {
        let sizes = [784 * 200, 200, 200 * 200, 200, 200 * 10, 10]  // the 2NN MLP on 28 × 28 images
        let f32 = DeltaEncoding.f32.encodedSize(tensorSizes: sizes)
        #expect(f32 == 1 + 8 + 4 * 199_210)
        #expect(DeltaEncoding.f16.encodedSize(tensorSizes: sizes) == 1 + 8 + 2 * 199_210)
        #expect(DeltaEncoding.int8.encodedSize(tensorSizes: sizes) == 1 + 8 + 24 + 8 + 199_210)
        // k = 1,993: 8 bytes per kept entry.
        #expect(DeltaEncoding.topk(fraction: 0.01).encodedSize(tensorSizes: sizes) == 1 + 8 + 16 + 8 * 1_993)
    }

    @Test func unknownEncodingTagAndTruncatedPayloadsAreCodecErrors() throws {
        let base = WireCodec.encode(.update(UpdateMessage(round: 1, clientIndex: 0, samples: 1, metrics: [:],
                                                          payload: .topk(length: 4, indices: [1, 2], values: [1, 2]))))
        var frame = Array(base.dropLast(4))
        frame[48] = 9  // the encoding tag follows the fixed fields and the empty metrics map
        guard case .unknownEncoding(field: "update.delta.encoding", offset: 48, tag: 9) = decodeError(FrameBuilder.resealed(frame + [0, 0, 0, 0])) else {
            Issue.record("expected unknownEncoding"); return
        }
        for payload in [DeltaPayload.f16([1, 2, 3]), .int8(scales: [1], values: [1, 2, 3]),
                        .topk(length: 9, indices: [1, 2], values: [1, 2])] {
            let whole = WireCodec.encode(.update(UpdateMessage(round: 1, clientIndex: 0, samples: 1, metrics: [:], payload: payload)))
            let cut = FrameBuilder.resealed(Array(whole.dropLast(6)) + [0, 0, 0, 0])
            guard case .truncated = decodeError(cut) else { Issue.record("\(payload): expected truncated"); return }
        }
    }

    func decodeError(_ bytes: [UInt8]) -> CodecError? {
        do { _ = try WireCodec.decode(bytes); return nil } catch { return error }
    }

    // MARK: Malformed encoded deltas

    @Test func malformedEncodedDeltasAreRejectedWithAClearError() {
        let int8 = format(.int8), topk = format(.topk(fraction: 0.01))  // k = 4
        let zeros = [Int8](repeating: 0, count: Self.n)
        func error(_ p: DeltaPayload, _ f: DeltaFormat) -> DeltaDecodingError? {
            do { _ = try DeltaCodec.decode(p, format: f); return nil } catch let failure { return failure }
        }
        #expect(error(.f16([0]), format(.f32)) == .wrongEncoding(got: "f16", expected: "f32"))
        #expect(error(.f32([1, 2]), format(.f32)) == .wrongLength(field: "f32 values", got: 2, expected: Self.n))
        #expect(error(.f16([UInt16](repeating: 0, count: Self.n - 1)), format(.f16)) == .wrongLength(field: "f16 values", got: Self.n - 1, expected: Self.n))
        var inf = [UInt16](repeating: 0, count: Self.n); inf[5] = 0x7C00
        #expect(error(.f16(inf), format(.f16)) == .nonFinite(field: "f16 values", position: 5))
        #expect(error(.int8(scales: [1, 1, 1], values: zeros), int8) == .wrongLength(field: "int8 scales", got: 3, expected: 4))
        #expect(error(.int8(scales: [1, 1, 1, 1], values: Array(zeros.dropLast())), int8) == .wrongLength(field: "int8 values", got: Self.n - 1, expected: Self.n))
        #expect(error(.int8(scales: [1, .nan, 1, 1], values: zeros), int8)?.description.contains("scale of tensor 1") == true)
        #expect(error(.int8(scales: [1, 1, .infinity, 1], values: zeros), int8) == .badScale(tensor: 2, value: .infinity))
        #expect(error(.int8(scales: [1, 1, 1, -1], values: zeros), int8) == .badScale(tensor: 3, value: -1))
        var low = zeros; low[9] = -128
        #expect(error(.int8(scales: [1, 1, 1, 1], values: low), int8) == .int8OutOfRange(index: 9, value: -128))
        var big = zeros; big[0] = 127
        #expect(error(.int8(scales: [.greatestFiniteMagnitude, 1, 1, 1], values: big), int8) == .nonFinite(field: "int8 values", position: 0))
        #expect(error(.topk(length: Self.n + 1, indices: [0, 1, 2, 3], values: [1, 1, 1, 1]), topk) == .wrongLength(field: "top-k dense length", got: Self.n + 1, expected: Self.n))
        #expect(error(.topk(length: Self.n, indices: [0, 1, 2], values: [1, 1, 1]), topk) == .wrongLength(field: "top-k indices", got: 3, expected: 4))
        #expect(error(.topk(length: Self.n, indices: [0, 1, 2, 3], values: [1, 1, 1]), topk) == .wrongLength(field: "top-k values", got: 3, expected: 4))
        #expect(error(.topk(length: Self.n, indices: [0, 1, 2, 360], values: [1, 1, 1, 1]), topk) == .indexOutOfRange(position: 3, index: 360, count: Self.n))
        #expect(error(.topk(length: Self.n, indices: [0, 5, 5, 7], values: [1, 1, 1, 1]), topk) == .indicesNotIncreasing(position: 2, previous: 5, index: 5))
        #expect(error(.topk(length: Self.n, indices: [0, 9, 5, 17], values: [1, 1, 1, 1]), topk) == .indicesNotIncreasing(position: 2, previous: 9, index: 5))
        #expect(error(.topk(length: Self.n, indices: [0, 1, 2, 3], values: [1, .nan, 1, 1]), topk) == .nonFinite(field: "top-k values", position: 1))
        #expect(DeltaDecodingError.indexOutOfRange(position: 3, index: 360, count: 360).description
                == "encoded delta: top-k index 360 at position 3 is outside 0..<360")
    }

    @Test func serverDecodesOnArrivalAndRejectsMalformedDeltasLikeAnyBadUpdate() {
        var m = ServerStateMachine<String>(configuration: .init(
            clients: 2, minClientsToStart: 2, clientsPerRound: 2, rounds: 1, parameterCount: Self.n, roundTimeout: 100,
            registrationTimeout: 30, samplingSeed: 7, tokenSeed: 99, runSpec: Array("{}".utf8),
            deltaFormat: format(.int8)))
        _ = m.start(parameters: [Float](repeating: 0, count: Self.n), now: 0)
        _ = m.receive(.hello(HelloMessage(processName: "p", claims: [ClientClaim(index: 0), ClientClaim(index: 1)])), from: "p", now: 0)
        let v = Self.delta(seed: 4)
        let good = DeltaCodec.encode(v, format: format(.int8)).payload
        let u0 = UpdateMessage(round: 1, clientIndex: 0, token: m.token(of: 0), samples: 5, metrics: [:], payload: good)
        let u1 = UpdateMessage(round: 1, clientIndex: 1, token: m.token(of: 1), samples: 5, metrics: [:],
                               payload: .int8(scales: [1, 1], values: []))
        _ = m.receive(.update(u0), from: "p", now: 1)
        let actions = m.receive(.update(u1), from: "p", now: 1)
        guard let o = actions.compactMap({ if case let .aggregate(o) = $0 { o } else { nil } }).first else {
            Issue.record("round did not close"); return
        }
        #expect(o.updates.map(\.clientIndex) == [0])
        #expect(o.updates[0].delta == (try? DeltaCodec.decode(good, format: format(.int8))))
        #expect(o.rejected == [.init(clientIndex: 1, reason: .undecodable("encoded delta: int8 scales has 2 entries, the model needs 4"))])
        #expect(o.traffic.up[0] == WireCodec.encodedSize(.update(u0)) && o.traffic.up[1] == WireCodec.encodedSize(.update(u1)))
        let model = WireCodec.encodedSize(.model(ModelMessage(round: 1, parameters: [Float](repeating: 0, count: Self.n))))
        #expect(o.traffic.down[0]! > model && o.traffic.downSent < o.traffic.down[0]! + o.traffic.down[1]!)
    }
}
