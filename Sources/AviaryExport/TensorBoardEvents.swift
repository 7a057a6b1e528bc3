import Foundation
import AviaryLog

/// `aviary export RUN --tensorboard DIR`: one TensorBoard event file of the run's per-round
/// scalars (`RoundScalars`), one `Event` per round with a `Summary` of `simple_value`s.
///
/// Why hand-written protobuf: the file needs two tiny messages (Event: wall_time, step,
/// file_version, summary; Summary.Value: tag, simple_value), five fields in all. swift-protobuf
/// would bring a runtime dependency and code generated from TensorFlow's event.proto and its
/// imports (tensor, resource handle, …) to write those few bytes; `ProtobufWriter` is 30 lines,
/// tested byte for byte, and the files are read back by TensorBoard's own reader in the tests.
public enum TensorBoardEvents {
    /// Writes `DIR/events.out.tfevents.<start time>.aviary` and returns its path.
    @discardableResult
    public static func export(_ log: AggregationLog, runPath: String, to directory: String) throws(ExportError) -> String {
        guard let start = log.runStart else { throw .noRunStart(path: runPath) }
        let startTime = RoundScalars.timestamp(start.time) ?? 0
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .cannotWrite(path: directory, reason: ErrorReason.of(error))
        }
        let path = directory + "/events.out.tfevents.\(Int(startTime)).aviary"
        do {
            try AtomicFile.write(file(log, startTime: startTime), to: path)
        } catch let RunFileError.cannotWrite(_, reason) {
            throw .cannotWrite(path: path, reason: reason)
        } catch {
            throw .cannotWrite(path: path, reason: "\(error)")
        }
        return path
    }

    /// The event file's bytes: the version event, then one scalar event per round.
    public static func file(_ log: AggregationLog, startTime: Double) -> Data {
        var out = TFRecord.frame(versionEvent(wallTime: startTime))
        for r in RoundScalars.of(log) { out += TFRecord.frame(scalarEvent(r)) }
        return out
    }

    /// `Event { wall_time = 1; file_version = 3 }`: TensorBoard reads files that start with it.
    static func versionEvent(wallTime: Double) -> Data {
        var e = ProtobufWriter()
        e.double(field: 1, wallTime)
        e.string(field: 3, "brain.Event:2")
        return e.bytes
    }

    /// `Event { wall_time = 1; step = 2; summary = 5 { value = 1 { tag = 1; simple_value = 2 } … } }`.
    static func scalarEvent(_ r: RoundScalars) -> Data {
        var summary = ProtobufWriter()
        for (name, value) in r.values {
            var v = ProtobufWriter()
            v.string(field: 1, name)
            v.float(field: 2, Float(value))
            summary.message(field: 1, v.bytes)
        }
        var e = ProtobufWriter()
        e.double(field: 1, r.wallTime)
        e.varint(field: 2, UInt64(r.round))
        e.message(field: 5, summary.bytes)
        return e.bytes
    }
}

/// The few protobuf wire encodings the event file needs (varint, 64- and 32-bit, length-delimited).
struct ProtobufWriter {
    private(set) var bytes = Data()

    mutating func varint(field: Int, _ v: UInt64) { key(field, wire: 0); raw(v) }
    mutating func double(field: Int, _ v: Double) { key(field, wire: 1); little(v.bitPattern, count: 8) }
    mutating func float(field: Int, _ v: Float) { key(field, wire: 5); little(UInt64(v.bitPattern), count: 4) }
    mutating func string(field: Int, _ s: String) { message(field: field, Data(s.utf8)) }
    mutating func message(field: Int, _ d: Data) { key(field, wire: 2); raw(UInt64(d.count)); bytes += d }

    private mutating func key(_ field: Int, wire: UInt64) { raw(UInt64(field) << 3 | wire) }
    private mutating func raw(_ v: UInt64) {
        var v = v
        while v >= 0x80 { bytes.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }
    private mutating func little(_ v: UInt64, count: Int) {
        for i in 0..<count { bytes.append(UInt8((v >> (8 * UInt64(i))) & 0xff)) }
    }
}

/// TFRecord framing: `length (u64 LE) · masked CRC-32C of length · data · masked CRC-32C of data`.
enum TFRecord {
    static func frame(_ data: Data) -> Data {
        var length = Data()
        for i in 0..<8 { length.append(UInt8((UInt64(data.count) >> (8 * UInt64(i))) & 0xff)) }
        return length + le32(masked(CRC32C.checksum(length))) + data + le32(masked(CRC32C.checksum(data)))
    }

    /// TensorFlow's mask: rotate right by 15 and add a constant, so a CRC of data holding CRCs stays strong.
    static func masked(_ crc: UInt32) -> UInt32 { ((crc >> 15) | (crc << 17)) &+ 0xa282_ead8 }

    static func le32(_ v: UInt32) -> Data { Data((0..<4).map { UInt8((v >> (8 * UInt32($0))) & 0xff) }) }
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven: the checksum TFRecord
/// frames carry. A checksum, not a cryptographic primitive.
enum CRC32C {
    static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 == 1 ? 0x82F6_3B78 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ data: Data) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in data { crc = table[Int((crc ^ UInt32(b)) & 0xff)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
