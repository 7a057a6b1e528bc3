import Foundation
import Testing
@testable import AviaryLog

/// Safetensors round trips, format details and validation of hand-built bad files.
@Suite struct SafetensorsTests {
    static let tensors: [(name: String, shape: [Int])] = [("layer1.weight", [2, 3]), ("layer1.bias", [3]), ("scale", [])]
    static let values: [Float] = [1, -2.5, 0x1p-140, -0.0, .infinity, 3.25, 1e30, -1e-30, 7, 0.1]

    @Test func roundTripKeepsShapesValuesAndMetadata() throws {
        let dir = try SafetensorsTestDirectory()
        let path = dir.file("a.safetensors")
        let metadata = ["round": "3", "note": "quotes \" and \\ and\nnewline, ünïcode"]
        try Safetensors.write(tensors: Self.tensors, values: Self.values, metadata: metadata, to: path)
        let file = try Safetensors.read(path: path)
        #expect(file.tensors.map(\.name) == ["layer1.weight", "layer1.bias", "scale"])
        #expect(file.tensors.map(\.shape) == [[2, 3], [3], []])
        #expect(file.tensors.allSatisfy { $0.dtype == "F32" })
        #expect(file.metadata == metadata)
        #expect(try file.flatValues().map(\.bitPattern) == Self.values.map(\.bitPattern))
        #expect(try file.values(named: "layer1.bias") == [1e30, -1e-30, 7])
        #expect(try file.values(named: "scale") == [0.1])
        #expect(try file.flatValues(order: ["scale", "layer1.bias"]) == [0.1, 1e30, -1e-30, 7])
        #expect(throws: SafetensorsError.missingTensor(path: path, tensor: "nope")) { try file.flatValues(order: ["nope"]) }
    }

    @Test func headerIsPaddedAndDataAligned() throws {
        let dir = try SafetensorsTestDirectory()
        let path = dir.file("a.safetensors")
        try Safetensors.write(tensors: Self.tensors, values: Self.values, to: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let n = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16
        #expect((8 + n) % 8 == 0)
        #expect(bytes.count == 8 + n + 4 * Self.values.count)
        #expect(bytes[8] == UInt8(ascii: "{"))
    }

    @Test func writeReplacesAtomicallyAndLeavesNoTempFiles() throws {
        let dir = try SafetensorsTestDirectory()
        let path = dir.file("ckpt.safetensors")
        try Safetensors.write(tensors: [("w", [2])], values: [1, 2], to: path)
        try Safetensors.write(tensors: [("w", [3])], values: [4, 5, 6], to: path)
        #expect(try Safetensors.read(path: path).flatValues() == [4, 5, 6])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["ckpt.safetensors"])
        #expect(throws: SafetensorsError.self) {
            try Safetensors.write(tensors: [("w", [1])], values: [1], to: dir.file("missing/dir/x.safetensors"))
        }
    }

    @Test func writeRejectsInconsistentInput() throws {
        let dir = try SafetensorsTestDirectory()
        let path = dir.file("x.safetensors")
        #expect(throws: SafetensorsError.self) { try Safetensors.write(tensors: [("w", [2, 2])], values: [1, 2, 3], to: path) }
        #expect(throws: SafetensorsError.self) { try Safetensors.write(tensors: [("w", [1]), ("w", [1])], values: [1, 2], to: path) }
        #expect(throws: SafetensorsError.self) { try Safetensors.write(tensors: [("__metadata__", [1])], values: [1], to: path) }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func everyTruncationIsRejected() throws {
        let dir = try SafetensorsTestDirectory()
        let path = dir.file("full.safetensors")
        try Safetensors.write(tensors: Self.tensors, values: Self.values, metadata: ["k": "v"], to: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let cut = dir.file("cut.safetensors")
        for length in 0..<bytes.count {
            try Data(bytes[0..<length]).write(to: URL(fileURLWithPath: cut))
            #expect(throws: SafetensorsError.self, "length \(length)") { try Safetensors.read(path: cut) }
        }
        // One extra byte after the last tensor is a hole at the end.
        try Data(bytes + [0]).write(to: URL(fileURLWithPath: cut))
        #expect(throws: SafetensorsError.self) { try Safetensors.read(path: cut) }
    }

    @Test func corruptedHeaderBytesNeverCrash() throws {
        let dir = try SafetensorsTestDirectory()
        let path = dir.file("full.safetensors")
        try Safetensors.write(tensors: Self.tensors, values: Self.values, to: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let headerEnd = 8 + (Int(bytes[0]) | Int(bytes[1]) << 8)
        let bad = dir.file("bad.safetensors")
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var accepted = 0
        for position in 0..<headerEnd {
            for replacement: UInt8 in [0x22, 0x39, UInt8(truncatingIfNeeded: state >> 56)] {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                var copy = bytes
                copy[position] = replacement
                try Data(copy).write(to: URL(fileURLWithPath: bad))
                // Either a typed error or a file that still passes every check.
                if let file = try? Safetensors.read(path: bad) {
                    accepted += 1
                    let total = file.tensors.reduce(0) { $0 + $1.byteRange.count }
                    #expect(total == bytes.count - headerEnd)
                    _ = try? file.flatValues()
                }
            }
        }
        #expect(accepted < headerEnd * 3)
    }

    @Test(arguments: [
        ("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, "data_offsets span"),
        ("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", 8, "overlaps"),
        ("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "hole"),
        ("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "shape"),
        ("{\"w\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype"),
        ("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4, "data_offsets"),
        ("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,400]}}", 4, "outside"),
        ("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,4]}}", 4, "larger than the file"),
        ("{\"__metadata__\":{\"k\":1}}", 0, "not a string"),
        ("{\"w\":[1,2]}", 0, "not an object"),
        ("[1,2]", 0, "does not start"),
        ("{\"w\":", 0, "not valid JSON"),
    ] as [(String, Int, String)])
    func malformedHeadersAreNamed(header: String, bufferBytes: Int, message: String) throws {
        let dir = try SafetensorsTestDirectory()
        let path = dir.file("bad.safetensors")
        let json = Array(header.utf8)
        var bytes: [UInt8] = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) }
        bytes += json + [UInt8](repeating: 0, count: bufferBytes)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do {
            _ = try Safetensors.read(path: path)
            Issue.record("accepted \(header)")
        } catch let error as SafetensorsError {
            #expect("\(error)".contains(message), "\(error)")
            #expect("\(error)".contains(path))
        }
    }

    @Test func hugeHeaderLengthIsRejected() throws {
        let dir = try SafetensorsTestDirectory()
        let path = dir.file("huge.safetensors")
        var bytes: [UInt8] = withUnsafeBytes(of: UInt64.max.littleEndian) { Array($0) }
        bytes += Array("{}".utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: SafetensorsError.headerLength(path: path, length: .max, available: 2)) { try Safetensors.read(path: path) }
        #expect(throws: SafetensorsError.self) { try Safetensors.read(path: dir.file("absent.safetensors")) }
        #expect(throws: SafetensorsError.self) { try Safetensors.read(path: dir.path) }
    }
}

/// A fresh directory under the system temp dir, removed when the value is deinitialised.
final class SafetensorsTestDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "aviary-safetensors-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
