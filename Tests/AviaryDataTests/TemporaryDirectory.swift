import AviaryMath
import Foundation

/// A fresh directory under the system temp dir for fixture files, removed on deinit.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "aviary-data-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `bytes` to `name` (gzipped when `gzip` is true) and returns the full path.
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8], gzip: Bool = false) throws -> String {
        let full = path + "/" + name
        let payload = gzip ? try Gzip.compress(bytes) : bytes
        try Data(payload).write(to: URL(fileURLWithPath: full))
        return full
    }

    @discardableResult
    func write(_ name: String, text: String) throws -> String { try write(name, Array(text.utf8)) }
}

/// IDX fixtures built by hand: big-endian header, then unsigned bytes.
enum IDXFixture {
    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    static func images(count: Int, rows: Int, cols: Int, magic: UInt32 = 0x0803, pixel: (Int) -> UInt8 = { UInt8($0 % 256) }) -> [UInt8] {
        bigEndian(magic) + bigEndian(UInt32(count)) + bigEndian(UInt32(rows)) + bigEndian(UInt32(cols))
            + (0..<(count * rows * cols)).map(pixel)
    }

    static func labels(_ values: [UInt8], magic: UInt32 = 0x0801) -> [UInt8] {
        bigEndian(magic) + bigEndian(UInt32(values.count)) + values
    }
}
