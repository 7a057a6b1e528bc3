/// Why a frame could not be decoded. Every case says where (field name and byte offset) and
/// what was expected, so a log line is enough to find the faulty peer or bug.
public enum CodecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The first four bytes are not "AVRY": the peer does not speak Aviary at all.
    case badMagic(found: [UInt8])
    /// The frame carries a protocol version this build does not speak.
    case unsupportedVersion(found: UInt16, supported: UInt16)
    /// The kind byte names no message of this protocol version.
    case unknownKind(UInt8)
    /// Flags are reserved (must be 0) in this protocol version.
    case unsupportedFlags(UInt8)
    /// The frame ended before `field` was complete.
    case truncated(field: String, offset: Int, needed: Int, available: Int)
    /// Bytes are left between the end of the body and the CRC trailer.
    case trailingBytes(offset: Int, count: Int)
    /// The CRC-32 trailer does not match the bytes before it: corrupted or tampered frame.
    case crcMismatch(inFrame: UInt32, computed: UInt32)
    /// A length or count field is negative.
    case negativeCount(field: String, offset: Int, value: Int64)
    /// A string is longer than `CodecLimits.maxStringBytes`.
    case stringTooLong(field: String, offset: Int, length: Int64, limit: Int)
    /// An opaque byte blob is longer than `CodecLimits.maxBlobBytes`.
    case blobTooLong(field: String, offset: Int, length: Int64, limit: Int)
    /// A metrics/config map has more entries than `CodecLimits.maxMetrics`.
    case tooManyMetrics(field: String, offset: Int, count: Int64, limit: Int)
    /// A float vector is longer than `CodecLimits.maxVectorCount`.
    case vectorTooLong(field: String, offset: Int, count: Int64, limit: Int)
    /// A list (client indices, claims) has more entries than `CodecLimits.maxListEntries`.
    case tooManyEntries(field: String, offset: Int, count: Int64, limit: Int)
    /// A string's bytes are not valid UTF-8.
    case invalidUTF8(field: String, offset: Int)
    /// An optional's presence tag is neither 0 nor 1.
    case invalidOptionalTag(field: String, offset: Int, tag: UInt8)
    /// A metrics/config map names the same key twice.
    case duplicateKey(field: String, offset: Int, key: String)
    /// The transport received a message split into `count` ZeroMQ frames; Aviary sends exactly one.
    case unexpectedFrames(count: Int)
    /// An UPDATE's delta names an encoding this version does not know (0 f32, 1 f16, 2 int8, 3 top-k).
    case unknownEncoding(field: String, offset: Int, tag: UInt8)
    /// A range of client indices whose first index is above its last (WELCOME's refusals).
    case invalidRange(field: String, offset: Int, first: Int, last: Int)
    /// HELLO's role byte is neither 0 (trainer) nor 1 (evaluator).
    case unknownRole(field: String, offset: Int, role: UInt8)
    /// A SECAGG or SECAGG_REPLY stage byte outside 1–4.
    case unknownStage(field: String, offset: Int, stage: UInt8)

    /// The case name without its context ("crcMismatch"), for counting errors by kind.
    public var category: String {
        Mirror(reflecting: self).children.first?.label ?? "unknown"
    }

    public var description: String {
        switch self {
        case .badMagic(let found):
            let hex = found.map { String($0, radix: 16) }.joined(separator: " ")
            return "not an Aviary frame: magic bytes are [\(hex)], expected \"AVRY\"; check that the peer is an Aviary client/server"
        case .unsupportedVersion(let found, let supported):
            return "protocol version \(found) is not supported (this build speaks \(supported)); run the same Aviary version on server and clients"
        case .unknownKind(let kind):
            return "unknown message kind \(kind) for protocol version \(protocolVersion); the peer is newer or buggy"
        case .unsupportedFlags(let flags):
            return "frame flags 0x\(String(flags, radix: 16)) are reserved and must be 0 in protocol version \(protocolVersion)"
        case .truncated(let field, let offset, let needed, let available):
            return "frame truncated in \(field) at byte \(offset): needs \(needed) bytes, \(available) left"
        case .trailingBytes(let offset, let count):
            return "\(count) unexpected bytes after the message body at byte \(offset); the peer encodes a different layout"
        case .crcMismatch(let inFrame, let computed):
            return "CRC-32 mismatch: frame says 0x\(String(inFrame, radix: 16)), bytes give 0x\(String(computed, radix: 16)); the frame was corrupted in transit"
        case .negativeCount(let field, let offset, let value):
            return "\(field) at byte \(offset) has negative length \(value)"
        case .stringTooLong(let field, let offset, let length, let limit):
            return "\(field) at byte \(offset) is \(length) bytes, more than the \(limit)-byte limit for strings"
        case .blobTooLong(let field, let offset, let length, let limit):
            return "\(field) at byte \(offset) is \(length) bytes, more than the \(limit)-byte limit; raise CodecLimits.maxBlobBytes if this is legitimate"
        case .tooManyMetrics(let field, let offset, let count, let limit):
            return "\(field) at byte \(offset) has \(count) entries, more than the limit of \(limit)"
        case .vectorTooLong(let field, let offset, let count, let limit):
            return "\(field) at byte \(offset) has \(count) floats, more than the limit of \(limit); raise CodecLimits.maxVectorCount for bigger models"
        case .tooManyEntries(let field, let offset, let count, let limit):
            return "\(field) at byte \(offset) has \(count) entries, more than the limit of \(limit)"
        case .invalidUTF8(let field, let offset):
            return "\(field) at byte \(offset) is not valid UTF-8"
        case .invalidOptionalTag(let field, let offset, let tag):
            return "\(field) at byte \(offset) has presence tag \(tag), expected 0 (absent) or 1 (present)"
        case .duplicateKey(let field, let offset, let key):
            return "\(field) at byte \(offset) repeats key \"\(key)\""
        case .unexpectedFrames(let count):
            return "message arrived as \(count) ZeroMQ frames, Aviary sends exactly one; the peer is not an Aviary endpoint"
        case .unknownEncoding(let field, let offset, let tag):
            return "\(field) at byte \(offset) has encoding tag \(tag), expected 0 (f32), 1 (f16), 2 (int8) or 3 (top-k)"
        case .invalidRange(let field, let offset, let first, let last):
            return "\(field) at byte \(offset) is the range \(first)-\(last), whose first index is above its last"
        case .unknownRole(let field, let offset, let role):
            return "\(field) at byte \(offset) is role \(role), expected 0 (trainer) or 1 (evaluator)"
        case .unknownStage(let field, let offset, let stage):
            return "\(field) at byte \(offset) is stage \(stage), expected 1 (advertise keys) to 4 (unmasking)"
        }
    }
}
