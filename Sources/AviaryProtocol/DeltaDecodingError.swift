/// Why a received encoded delta cannot be turned into the model's dense delta. The server
/// rejects the update with this as its reason, like any other bad update; every case says where.
public enum DeltaDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The payload is in another encoding than the run's.
    case wrongEncoding(got: String, expected: String)
    /// A length on the wire disagrees with the model's layout (`field` names which).
    case wrongLength(field: String, got: Int, expected: Int)
    /// An int8 tensor's scale is NaN, infinite or negative.
    case badScale(tensor: Int, value: Float)
    /// An int8 value is −128 (the encoding uses −127…127).
    case int8OutOfRange(index: Int, value: Int8)
    /// A top-k index is not below the model's parameter count.
    case indexOutOfRange(position: Int, index: UInt32, count: Int)
    /// Top-k indices must be strictly increasing (no duplicates, no reordering).
    case indicesNotIncreasing(position: Int, previous: UInt32, index: UInt32)
    /// A value decodes to NaN or ±infinity.
    case nonFinite(field: String, position: Int)

    public var description: String {
        switch self {
        case let .wrongEncoding(got, expected):
            "delta is encoded as \(got); this run uses \(expected)"
        case let .wrongLength(field, got, expected):
            "encoded delta: \(field) has \(got) entries, the model needs \(expected)"
        case let .badScale(tensor, value):
            "encoded delta: int8 scale of tensor \(tensor) is \(value), not a finite non-negative number"
        case let .int8OutOfRange(index, value):
            "encoded delta: int8 value \(value) at \(index) is outside -127...127"
        case let .indexOutOfRange(position, index, count):
            "encoded delta: top-k index \(index) at position \(position) is outside 0..<\(count)"
        case let .indicesNotIncreasing(position, previous, index):
            "encoded delta: top-k index \(index) at position \(position) does not follow \(previous) in increasing order"
        case let .nonFinite(field, position):
            "encoded delta: \(field)[\(position)] is not finite"
        }
    }
}
