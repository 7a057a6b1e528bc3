/// A client's stage-3 reply body, built where it is used: a u32 count, then the quantised input
/// as little-endian u32 words, exactly what `SecAggBodyCodec.encode(.masked(_:))` writes. The
/// client quantises into it (stage 1) and masks it in place (stage 3), and the bytes go on the
/// wire as they are: the input (0.8 MB with the MLP) is never copied into a separate body.
public struct MaskedInputBody: Sendable {
    /// The body: 4 + 4·count bytes.
    public private(set) var bytes: [UInt8]
    /// Words in the vector.
    public let count: Int

    /// A body for `count` words whose words `fill` writes, in host order, from the pointer it is
    /// given (every one of them: the memory starts uninitialised).
    init(count: Int, fill: (UnsafeMutablePointer<UInt32>) throws(SecAggError) -> Void) throws(SecAggError) {
        self.count = count
        var failure: SecAggError?
        bytes = [UInt8](unsafeUninitializedCapacity: 4 + 4 * count) { raw, initialised in
            withUnsafeBytes(of: UInt32(truncatingIfNeeded: count).littleEndian) { for i in 0..<4 { raw[i] = $0[i] } }
            do throws(SecAggError) { try fill(Self.words(raw.baseAddress!)) } catch { failure = error }
            initialised = 4 + 4 * count
        }
        if let failure { throw failure }
    }

    /// A body holding `words` (the in-memory round and tests: the layout a client quantises into).
    init(words: [UInt32]) {
        // The fill cannot fail.
        self = try! MaskedInputBody(count: words.count) { (w: UnsafeMutablePointer<UInt32>) throws(SecAggError) in
            for i in 0..<words.count { w[i] = words[i] }
        }
    }

    /// The words after the count. An array's elements start 16-byte aligned (Swift's array
    /// header is 32 bytes, malloc's blocks 16-aligned), so the words at byte 4 are 4-aligned.
    private static func words(_ base: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt32> {
        let raw = UnsafeMutableRawPointer(base + 4)
        precondition(Int(bitPattern: raw) % MemoryLayout<UInt32>.alignment == 0, "a body's words must be UInt32-aligned")
        return raw.assumingMemoryBound(to: UInt32.self)
    }

    /// The words in host order, to read or change in place.
    mutating func withWords<R>(_ body: (UnsafeMutablePointer<UInt32>) throws(SecAggError) -> R) throws(SecAggError) -> R {
        var result: Result<R, SecAggError>!
        bytes.withUnsafeMutableBufferPointer { b in
            do throws(SecAggError) { result = .success(try body(Self.words(b.baseAddress!))) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    /// Host order to the wire's little-endian, once masking is done (nothing to do on a
    /// little-endian host).
    mutating func finish() {
        #if _endian(big)
        try? withWords { (w: UnsafeMutablePointer<UInt32>) throws(SecAggError) in for i in 0..<count { w[i] = w[i].littleEndian } }
        #endif
    }
}
