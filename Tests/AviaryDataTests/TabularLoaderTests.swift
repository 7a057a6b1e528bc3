import Foundation
import Testing
import AviaryTestSupport
@testable import AviaryData

/// Builds a version-1 .npy file: magic, header dict padded to 64 bytes, payload.
func npyFile(descr: String, shape: [Int], payload: [UInt8], fortran: Bool = false) -> [UInt8] {
    let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shapeText), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    let length = header.utf8.count
    return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + Array(header.utf8) + payload
}

func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    values.flatMap { v in (0..<MemoryLayout<T>.size).map { UInt8(truncatingIfNeeded: v.littleEndian >> (8 * $0)) } }
}

@Suite struct CSVLoaderTests {
    @Test func loadsLabelsFeaturesAndStringOwners() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("train.csv", text: "a,label,writer,b\r\n0.5,1,w7,2\r\n1.5,0,w3,-1\n\n2.5,2,w7,4\n")
        let d = try CSVLoader.load(path: path, labelColumn: "label", ownerColumn: "writer")
        #expect(d.labels == [1, 0, 2])
        #expect(d.features == [0.5, 2, 1.5, -1, 2.5, 4])
        #expect(d.sampleShape == [2] && d.classes == 3 && d.valueRange == nil)
        #expect(d.owners == [0, 1, 0])
    }

    @Test func raggedRowNamesTheLine() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("bad.csv", text: "label,x,y\n1,2,3\n0,1\n")
        #expect(throws: DatasetError.raggedCSVRow(path: path, line: 3, expected: 3, found: 2)) {
            try CSVLoader.load(path: path, labelColumn: "label", ownerColumn: nil)
        }
    }

    @Test func badValuesAndMissingColumnsAreNamed() throws {
        let dir = try TemporaryDirectory()
        let text = try dir.write("text.csv", text: "label,x\n1,abc\n")
        #expect(throws: DatasetError.badCSVValue(path: text, line: 2, column: "x", value: "abc")) {
            try CSVLoader.load(path: text, labelColumn: "label", ownerColumn: nil)
        }
        let fractional = try dir.write("frac.csv", text: "label,x\n1.5,1\n")
        #expect(throws: DatasetError.badCSVValue(path: fractional, line: 2, column: "label", value: "1.5")) {
            try CSVLoader.load(path: fractional, labelColumn: "label", ownerColumn: nil)
        }
        let negative = try dir.write("neg.csv", text: "label,x\n-1,1\n")
        #expect(throws: DatasetError.self) { try CSVLoader.load(path: negative, labelColumn: "label", ownerColumn: nil) }
        #expect(throws: DatasetError.missingCSVColumn(path: text, column: "y", header: ["label", "x"])) {
            try CSVLoader.load(path: text, labelColumn: "y", ownerColumn: nil)
        }
    }
}

@Suite struct NPYLoaderTests {
    @Test func float32FeaturesAndInt64Labels() throws {
        let dir = try TemporaryDirectory()
        let xs: [Float] = [0.25, -1, 3, 4, 5, 6]
        let x = try dir.write("x.npy", npyFile(descr: "<f4", shape: [3, 2], payload: littleEndianBytes(xs.map(\.bitPattern))))
        let y = try dir.write("y.npy", npyFile(descr: "<i8", shape: [3], payload: littleEndianBytes([Int64(2), 0, 1])))
        let d = try NPYLoader.load(x: x, y: y)
        #expect(d.features == xs && d.labels == [2, 0, 1] && d.sampleShape == [2] && d.classes == 3)
        #expect(d.valueRange == nil)
    }

    @Test func uint8ImagesScaleToUnitRange() throws {
        let dir = try TemporaryDirectory()
        let x = try dir.write("x.npy", npyFile(descr: "|u1", shape: [2, 1, 2, 2], payload: [0, 255, 51, 102, 1, 2, 3, 4]))
        let y = try dir.write("y.npy", npyFile(descr: "|u1", shape: [2, 1], payload: [1, 0]))
        let d = try NPYLoader.load(x: x, y: y)
        #expect(d.sampleShape == [1, 2, 2] && d.valueRange == 0...1)
        #expect(d.features[1] == 1 && abs(d.features[2] - 0.2) < 1e-7)
        #expect(d.labels == [1, 0])
    }

    @Test func float64AndInt32Decode() throws {
        let dir = try TemporaryDirectory()
        let x = try dir.write("x.npy", npyFile(descr: "<f8", shape: [2, 1], payload: littleEndianBytes([Double(0.5).bitPattern, Double(0.75).bitPattern])))
        let y = try dir.write("y.npy", npyFile(descr: "<i4", shape: [2], payload: littleEndianBytes([Int32(0), 3])))
        let d = try NPYLoader.load(x: x, y: y)
        #expect(d.features == [0.5, 0.75] && d.labels == [0, 3] && d.valueRange == 0...1)
    }

    @Test func badHeadersAreRejectedWithTheirProblem() throws {
        let dir = try TemporaryDirectory()
        let y = try dir.write("y.npy", npyFile(descr: "<i8", shape: [1], payload: littleEndianBytes([Int64(0)])))
        let notNpy = try dir.write("a.npy", Array("hello world, not numpy".utf8))
        let fortran = try dir.write("f.npy", npyFile(descr: "<f4", shape: [1, 1], payload: [0, 0, 0, 0], fortran: true))
        let bigEndian = try dir.write("b.npy", npyFile(descr: ">f4", shape: [1, 1], payload: [0, 0, 0, 0]))
        let truncatedBytes = npyFile(descr: "<f4", shape: [1, 4], payload: [0, 0, 0, 0])
        let truncated = try dir.write("t.npy", truncatedBytes)
        for bad in [notNpy, fortran, bigEndian] {
            let error = #expect(throws: DatasetError.self) { try NPYLoader.load(x: bad, y: y) }
            guard case .badNPYHeader(let path, _)? = error else { Issue.record("wrong error \(String(describing: error))"); continue }
            #expect(path == bad)
        }
        #expect(throws: DatasetError.truncated(path: truncated, expectedBytes: truncatedBytes.count - 4 + 16, actualBytes: truncatedBytes.count)) {
            try NPYLoader.load(x: truncated, y: y)
        }
        let negative = try dir.write("n.npy", npyFile(descr: "<i8", shape: [1], payload: littleEndianBytes([Int64(-3)])))
        let x = try dir.write("x.npy", npyFile(descr: "<f4", shape: [1, 1], payload: [0, 0, 0, 0]))
        #expect(throws: DatasetError.labelOutOfRange(path: negative, sample: 0, label: -3, classes: Int(Int32.max))) {
            try NPYLoader.load(x: x, y: negative)
        }
    }

    /// Whether python3 with NumPy runs here (checked once).
    static let haveNumPy: Bool = {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import numpy"]
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return false }
        probe.waitUntilExit()
        return probe.terminationStatus == 0
    }()

    @Test(.enabled(if: Prerequisite.enabled(haveNumPy), "python3 with NumPy is not installed (apt-get install python3-numpy)"))
    func readsFilesWrittenByNumPy() throws {
        // The reference writer: numpy itself, when python3 with numpy is on PATH.
        let dir = try TemporaryDirectory()
        let script = "import numpy as np; np.save('\(dir.path)/x.npy', np.arange(12, dtype=np.float64).reshape(3, 4) / 11); np.save('\(dir.path)/y.npy', np.array([1, 0, 2]))"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "python3 -c 'import numpy; …' failed")
        let d = try NPYLoader.load(x: dir.path + "/x.npy", y: dir.path + "/y.npy")
        #expect(d.sampleShape == [4] && d.labels == [1, 0, 2])
        #expect(abs(d.features[11] - 1) < 1e-7 && abs(d.features[5] - 5.0 / 11) < 1e-7)
    }
}
