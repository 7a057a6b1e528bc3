import AviaryProtocol
import Foundation
import Testing

/// Tests/Vectors/ holds one frame per message kind and per delta encoding, plus manifest.json
/// describing each frame's fields: the contract python/aviary_client's codec tests against.
/// These tests check that the Swift encoder writes exactly those bytes and that the decoder reads
/// them back, so neither side can drift without a test failing.
///
/// After a deliberate protocol change, regenerate them (and say so in docs/PROTOCOL.md):
///
///     AVIARY_REGENERATE_VECTORS=1 swift test -c release --filter SharedVectorTests
@Suite struct SharedVectorTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Vectors")
    static let regenerate = ProcessInfo.processInfo.environment["AVIARY_REGENERATE_VECTORS"] == "1"

    static func manifest() throws -> Data {
        let frames: [ManifestValue] = SharedVectors.all.map { v in
            let bytes = WireCodec.encode(v.message)
            var entry: [String: ManifestValue] = [
                "file": .string(v.file), "kind": .string(v.message.kind.name), "kind_byte": .int(Int(v.message.kind.rawValue)),
                "size": .int(bytes.count), "fields": .object(v.fields),
                "crc32": .uint(UInt64(bytes.suffix(4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })),
            ]
            if let d = v.delta { entry["delta"] = .object(d) }
            return .object(entry)
        }
        let manifest = ManifestValue.object([
            "protocol_version": .int(Int(protocolVersion)),
            "regenerate": .string("AVIARY_REGENERATE_VECTORS=1 swift test -c release --filter SharedVectorTests"),
            "about": .string("One frame per file, exactly as WireCodec encodes it (docs/PROTOCOL.md). fields: the body by the document's field names; u64 tokens as JSON integers; *_bits: f32 values as u32 bit patterns (exact); delta: the input floats the client encoded, what the server decodes, and for top-k the error-feedback residuals before and after (sent + residual_after == input + residual_before)."),
            "frames": .array(frames),
        ])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return try encoder.encode(manifest) + Data("\n".utf8)
    }

    @Test func encoderWritesTheSharedBytes() throws {
        if Self.regenerate {
            try FileManager.default.createDirectory(at: Self.directory, withIntermediateDirectories: true)
        }
        for v in SharedVectors.all {
            let url = Self.directory.appendingPathComponent(v.file)
            let encoded = WireCodec.encode(v.message)
            if Self.regenerate { try Data(encoded).write(to: url) }
            let stored = [UInt8](try Data(contentsOf: url))
            #expect(stored == encoded, "\(v.file): the encoder no longer writes the shared vector (regenerate only for a deliberate protocol change)")
            let decoded = try WireCodec.decode(stored)
            #expect(bitwiseEqual(decoded, v.message), "\(v.file) decodes to \(decoded)")
            #expect(stored[4] == UInt8(protocolVersion) && stored[6] == v.message.kind.rawValue)
        }
    }

    @Test func manifestDescribesTheFrames() throws {
        let url = Self.directory.appendingPathComponent("manifest.json")
        let generated = try Self.manifest()
        if Self.regenerate { try generated.write(to: url) }
        #expect(try Data(contentsOf: url) == generated, "Tests/Vectors/manifest.json differs from what the vectors say")
    }

    @Test func everyKindAndEncodingHasAVector() throws {
        let kinds = Set(SharedVectors.all.map(\.message.kind))
        #expect(kinds == Set(Message.Kind.allCases))
        let tags = Set(SharedVectors.all.compactMap { v -> UInt8? in
            if case let .update(u) = v.message { return u.payload.tag } else { return nil }
        })
        #expect(tags == [0, 1, 2, 3])
        let listed = Set(SharedVectors.all.map(\.file) + ["manifest.json", "runspec-mlp.json"])  // the run spec: AviaryTopologyTests
        let present = Set(try FileManager.default.contentsOfDirectory(atPath: Self.directory.path))
        #expect(present == listed, "files in Tests/Vectors/ not made by SharedVectors (or missing): \(present.symmetricDifference(listed).sorted())")
    }

    /// The delta vectors' claims hold: decoding gives the listed floats, f16 clamps and top-k's
    /// error-feedback identity (sent + new residual == delta + old residual, exactly in f32).
    @Test func deltaVectorsDecodeAsListed() throws {
        for v in SharedVectors.deltaVectors {
            guard case let .update(u) = v.message, let d = v.delta,
                  case let .array(input)? = d["input"], case let .array(decoded)? = d["decoded"] else {
                Issue.record("\(v.file) is not a described UPDATE"); continue
            }
            #expect(input.count == 8 && decoded.count == 8)
            if case let .topk(_, indices, values) = u.payload, case let .array(before)? = d["residual_before"],
               case let .array(after)? = d["residual_after"] {
                var sent = [Float](repeating: 0, count: 8)
                for (i, x) in zip(indices, values) { sent[Int(i)] = x }
                for i in 0..<8 {
                    guard case let .float(x) = input[i], case let .float(r0) = before[i], case let .float(r1) = after[i] else { continue }
                    #expect((sent[i] + r1).bitPattern == (x + r0).bitPattern, "\(v.file) coordinate \(i)")
                }
                #expect(indices == [1, 2], "the tie at 0.75 goes to the lower index")
            }
        }
    }
}
