import Foundation
import Testing
import AviaryTestSupport
@testable import AviaryLog

/// Cross-checks with an independent reader/writer: NumPy, parsing the format by hand (json +
/// frombuffer), as a user without the `safetensors` package would.
@Suite struct SafetensorsNumPyTests {
    static let python: String? = {
        // The first python3 on PATH that has NumPy (pyenv shims and venvs come before /usr/bin).
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let candidates = path.split(separator: ":").map { "\($0)/python3" } + ["/usr/bin/python3"]
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            if (try? run(candidate, ["-c", "import numpy"]))?.status == 0 { return candidate }
        }
        return nil
    }()

    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test(.enabled(if: Prerequisite.enabled(python != nil), "python3 with numpy not found; run `make setup-test` to install it"))
    func numpyReadsWhatSwiftWrote() throws {
        let dir = try SafetensorsTestDirectory()
        let path = dir.file("model.safetensors")
        let count = 3 * 4 + 4 + 1000
        let values = (0..<count).map { Float(sin(Double($0) * 0.37)) * Float($0 % 17) }
        try Safetensors.write(tensors: [("fc.weight", [3, 4]), ("fc.bias", [4]), ("emb", [10, 100])],
                              values: values, metadata: ["format": "pt", "round": "7"], to: path)
        let script = """
        import json, struct, sys
        import numpy as np
        raw = open(sys.argv[1], 'rb').read()
        (n,) = struct.unpack('<Q', raw[:8])
        header = json.loads(raw[8:8 + n])
        buf = raw[8 + n:]
        meta = header.pop('__metadata__', {})
        out = {'meta': meta, 'tensors': {}}
        for name, t in header.items():
            a, b = t['data_offsets']
            arr = np.frombuffer(buf[a:b], dtype='<f4').reshape(t['shape'])
            out['tensors'][name] = {'shape': list(arr.shape), 'bits': arr.view('<u4').ravel().tolist()}
        print(json.dumps(out))
        """
        let result = try Self.run(try #require(Self.python, "python3 with numpy not found"), ["-c", script, path])
        try #require(result.status == 0, "\(result.output)")
        struct Dump: Decodable { var meta: [String: String]; var tensors: [String: Entry] }
        struct Entry: Decodable { var shape: [Int]; var bits: [UInt32] }
        let dump = try JSONDecoder().decode(Dump.self, from: Data(result.output.utf8))
        #expect(dump.meta == ["format": "pt", "round": "7"])
        #expect(dump.tensors["fc.weight"]?.shape == [3, 4])
        #expect(dump.tensors["emb"]?.shape == [10, 100])
        let flat = ["fc.weight", "fc.bias", "emb"].flatMap { dump.tensors[$0]?.bits ?? [] }
        #expect(flat == values.map(\.bitPattern))
    }

    @Test(.enabled(if: Prerequisite.enabled(python != nil), "python3 with numpy not found; run `make setup-test` to install it"))
    func swiftReadsWhatNumpyWrote() throws {
        let dir = try SafetensorsTestDirectory()
        let path = dir.file("numpy.safetensors")
        // NumPy writes F32, F16, F64 and BF16 (top halves of F32) in a shuffled header order.
        let script = """
        import json, struct, sys
        import numpy as np
        x = (np.arange(24, dtype=np.float64) - 11.5) / 4
        parts = [('d', 'F64', x[:6].reshape(2, 3).astype('<f8')),
                 ('h', 'F16', x[6:10].astype('<f2')),
                 ('f', 'F32', x[10:18].reshape(2, 2, 2).astype('<f4')),
                 ('b', 'BF16', (x[18:24].astype('<f4').view('<u4') >> 16).astype('<u2'))]
        header, blobs, offset = {}, [], 0
        for name, dtype, arr in parts:
            blob = arr.tobytes()
            shape = list(arr.shape)
            header[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': [offset, offset + len(blob)]}
            blobs.append(blob); offset += len(blob)
        header['__metadata__'] = {'source': 'numpy'}
        text = json.dumps(dict(reversed(list(header.items())))).encode()
        text += b' ' * 5
        with open(sys.argv[1], 'wb') as fh:
            fh.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))
        """
        let result = try Self.run(try #require(Self.python, "python3 with numpy not found"), ["-c", script, path])
        try #require(result.status == 0, "\(result.output)")
        let file = try Safetensors.read(path: path)
        #expect(file.metadata == ["source": "numpy"])
        #expect(file.tensors.map(\.name) == ["d", "h", "f", "b"])
        #expect(file.tensor(named: "f")?.shape == [2, 2, 2])
        // Every value is a multiple of 1/4 in −2.875…2.875, exact in all four dtypes.
        let expected = (0..<24).map { (Float($0) - 11.5) / 4 }
        #expect(try file.flatValues(order: ["d", "h", "f", "b"]) == expected)
    }
}
