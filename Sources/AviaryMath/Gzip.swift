import CZlib

/// Why a gzip/zlib stream could not be inflated or deflated.
public enum GzipError: Error, CustomStringConvertible, Equatable, Sendable {
    /// zlib rejected the data (bad header, bad checksum, corrupt block); `message` is zlib's.
    case corrupt(message: String)
    /// The stream ended before its end-of-stream marker: the file was cut short.
    case truncated(inputBytes: Int, outputBytes: Int)
    /// zlib could not be initialised (out of memory or a library/version mismatch).
    case initialisation(code: Int32)

    public var description: String {
        switch self {
        case .corrupt(let message):
            return "gzip data is corrupt (\(message)); re-download or re-install the file"
        case .truncated(let inputBytes, let outputBytes):
            return "gzip data ends early after \(inputBytes) compressed bytes (\(outputBytes) inflated); the file is truncated, re-download or re-install it"
        case .initialisation(let code):
            return "zlib failed to initialise (code \(code)); check that libz is installed and not mismatched"
        }
    }
}

/// In-memory gzip/zlib inflate and gzip deflate over zlib.
public enum Gzip {
    /// True when `bytes` start with the gzip magic number 1f 8b.
    public static func isGzip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    /// Inflates a whole gzip or zlib stream (format detected from its header).
    public static func decompress(_ input: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        // 15 + 32: maximum window, and let zlib detect gzip versus zlib headers.
        let initCode = inflateInit2_(&stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard initCode == Z_OK else { throw GzipError.initialisation(code: initCode) }
        defer { inflateEnd(&stream) }

        // IDX images compress ~5:1; start near that and grow geometrically.
        var output = [UInt8](repeating: 0, count: max(1 << 16, input.count * 4))
        var produced = 0
        var code: Int32 = Z_OK
        try input.withUnsafeBufferPointer { inBuf in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            var consumed = 0
            while true {
                if produced == output.count {
                    output.append(contentsOf: [UInt8](repeating: 0, count: output.count))
                }
                // avail_in/avail_out are 32-bit; feed at most 1 GiB per call.
                let inChunk = min(inBuf.count - consumed, 1 << 30)
                let outChunk = min(output.count - produced, 1 << 30)
                stream.avail_in = uInt(inChunk)
                code = output.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress!.advanced(by: produced)
                    stream.avail_out = uInt(outChunk)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                consumed += inChunk - Int(stream.avail_in)
                produced += outChunk - Int(stream.avail_out)
                if code == Z_STREAM_END { return }
                if code == Z_NEED_DICT || code == Z_DATA_ERROR || code == Z_MEM_ERROR || code == Z_STREAM_ERROR {
                    let message = stream.msg.map { String(cString: $0) } ?? "zlib code \(code)"
                    throw GzipError.corrupt(message: message)
                }
                // No progress possible: all input consumed while output space remained.
                if consumed == inBuf.count && stream.avail_out > 0 {
                    throw GzipError.truncated(inputBytes: consumed, outputBytes: produced)
                }
            }
        }
        output.removeSubrange(produced...)
        return output
    }

    /// Deflates `input` into a gzip stream (used to write fixtures and compressed exports).
    public static func compress(_ input: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        var stream = z_stream()
        // 15 + 16: maximum window with a gzip (not zlib) wrapper.
        let initCode = deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                                     zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard initCode == Z_OK else { throw GzipError.initialisation(code: initCode) }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(input.count))) + 64
        var output = [UInt8](repeating: 0, count: bound)
        let code: Int32 = input.withUnsafeBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
                stream.avail_in = uInt(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = uInt(outBuf.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard code == Z_STREAM_END else {
            throw GzipError.corrupt(message: "deflate returned \(code)")
        }
        output.removeSubrange(Int(stream.total_out)...)
        return output
    }
}
