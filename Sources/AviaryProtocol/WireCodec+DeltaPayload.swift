/// UPDATE's delta field on the wire: a u8 encoding tag, then the payload (docs/PROTOCOL.md,
/// "Delta encodings"). The reader checks only that counts fit in the frame and the limits;
/// lengths against the model are `DeltaCodec.decode`'s job.
///
///     0 f32:  f32[] values
///     1 f16:  i64 n · n × u16 (binary16 bit patterns)
///     2 int8: f32[] scales (one per tensor) · i64 n · n × i8
///     3 topk: int length · i64 k · k × u32 indices · f32[] values (k of them)
extension WireSize {
    static func payload(_ p: DeltaPayload) -> Int {
        switch p {
        case let .f32(v): 1 + floats(v)
        case let .f16(v): 1 + 8 + 2 * v.count
        case let .int8(scales, values): 1 + floats(scales) + 8 + values.count
        case let .topk(_, indices, values): 1 + int + 8 + 4 * indices.count + floats(values)
        }
    }
}

extension WireWriter {
    mutating func payload(_ p: DeltaPayload) {
        u8(p.tag)
        switch p {
        case let .f32(v):
            floats(v)
        case let .f16(v):
            int(v.count)
            for x in v { u16(x) }
        case let .int8(scales, values):
            floats(scales)
            int(values.count)
            values.withUnsafeBytes { raw($0) }
        case let .topk(length, indices, values):
            int(length)
            int(indices.count)
            for i in indices { u32(i) }
            floats(values)
        }
    }
}

extension WireReader {
    mutating func payload(_ field: String) throws(CodecError) -> DeltaPayload {
        let at = offset
        let tag = try u8(field + ".encoding")
        switch tag {
        case 0:
            return .f32(try floats(field + ".f32"))
        case 1:
            let (n, bytes) = try elements(field + ".f16", elementBytes: 2)
            return .f16((0..<n).map { UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) })
        case 2:
            let scales = try floats(field + ".int8.scales")
            let (n, bytes) = try elements(field + ".int8.values", elementBytes: 1)
            let values = [Int8](unsafeUninitializedCapacity: n) { buffer, initialized in
                if n > 0 { UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: bytes.baseAddress!, byteCount: n) }
                initialized = n
            }
            return .int8(scales: scales, values: values)
        case 3:
            let length = try int(field + ".topk.length")
            let (n, bytes) = try elements(field + ".topk.indices", elementBytes: 4)
            let indices = (0..<n).map { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
            return .topk(length: length, indices: indices, values: try floats(field + ".topk.values"))
        default:
            throw .unknownEncoding(field: field + ".encoding", offset: at, tag: tag)
        }
    }
}
