import Testing
import AviaryProtocol

@Suite struct WireCodecRoundTripTests {
    @Test(arguments: SampleMessages.all)
    func everyMessageRoundTripsBitwise(_ message: Message) throws {
        let bytes = WireCodec.encode(message)
        #expect(bytes.count == WireCodec.encodedSize(message))
        let decoded = try WireCodec.decode(bytes)
        #expect(bitwiseEqual(decoded, message), "decoded \(decoded) from \(message)")
        // Deterministic: encoding the decoded message reproduces the same bytes.
        #expect(WireCodec.encode(decoded) == bytes)
    }

    @Test func everyKindIsCovered() {
        let kinds = Set(SampleMessages.all.map(\.kind))
        #expect(kinds == Set(Message.Kind.allCases))
    }

    @Test func heartbeatBytesMatchHandComputedFrame() {
        // "AVRY", version 1, kind 7, flags 0, CRC-32 0x43a83473 (python: zlib.crc32).
        let expected: [UInt8] = [0x41, 0x56, 0x52, 0x59, 0x01, 0x00, 0x07, 0x00, 0x73, 0x34, 0xA8, 0x43]
        #expect(WireCodec.encode(.heartbeat(Heartbeat())) == expected)
    }

    @Test func byeBytesMatchHandComputedFrame() {
        var b = FrameBuilder(kind: 9)
        b.i64(3)
        let frame = b.sealed()
        #expect(frame.suffix(4) == [0x11, 0x4E, 0x8B, 0x61])  // zlib.crc32 = 0x618b4e11
        #expect(WireCodec.encode(.bye(Bye(clientIndex: 3))) == frame)
    }

    @Test func helloLayoutIsNameThenOptionalIndex() throws {
        var b = FrameBuilder(kind: 1)
        b.string("c1"); b.u8(1); b.i64(5)
        let frame = b.sealed()
        #expect(frame.count == 31)
        #expect(WireCodec.encode(.hello(Hello(clientName: "c1", requestedIndex: 5))) == frame)
        #expect(try WireCodec.decode(frame) == .hello(Hello(clientName: "c1", requestedIndex: 5)))
    }

    @Test func updateLayoutSortsMetricsAndEndsWithRawFloats() throws {
        var b = FrameBuilder(kind: 5)
        b.i64(2); b.i64(1); b.i64(100)
        b.i64(2); b.string("a"); b.f64(1.0); b.string("b"); b.f64(-2.5)
        b.i64(3); b.f32(1); b.f32(-0.5); b.f32(3e-8)
        let m = Message.update(Update(round: 2, clientIndex: 1, samples: 100,
                                      metrics: ["b": -2.5, "a": 1.0], delta: [1, -0.5, 3e-8]))
        #expect(WireCodec.encode(m) == b.sealed())
    }

    @Test func bigVectorRoundTrips() throws {
        let n = 1_660_000
        let delta = (0..<n).map { Float($0 % 977) * 0.001 - 0.3 }
        let m = Message.update(Update(round: 1, clientIndex: 0, samples: 6000, metrics: ["samples": 6000], delta: delta))
        let bytes = WireCodec.encode(m)
        #expect(bytes.count == 8 + 24 + 8 + (8 + 7 + 8) + 8 + 4 * n + 4)
        guard case .update(let u) = try WireCodec.decode(bytes) else { Issue.record("wrong kind"); return }
        let intact = u.delta == delta  // a Bool, so a failure does not print 1.66M floats
        #expect(intact)
    }

    @Test func encodeIntoBufferMatchesArrayEncoding() {
        for m in SampleMessages.all {
            let size = WireCodec.encodedSize(m)
            let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 1)
            defer { raw.deallocate() }
            WireCodec.encode(m, into: raw)
            #expect(Array(raw) == WireCodec.encode(m))
        }
    }

    @Test func decodeFromUnalignedBuffer() throws {
        let m = Message.task(Task(round: 3, parameters: [1, 2, 3], config: ["lr": 0.1]))
        let padded = [0xEE] + WireCodec.encode(m)
        let decoded = try padded.withUnsafeBytes { raw throws(CodecError) in
            try WireCodec.decode(UnsafeRawBufferPointer(rebasing: raw[1...]))
        }
        #expect(decoded == m)
    }
}
