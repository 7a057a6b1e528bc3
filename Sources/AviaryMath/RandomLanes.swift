import CVectorKernels

/// Eight xoshiro256** streams side by side, seeded from one `RandomStream`: draw j of the
/// sequence is lane j mod 8's (j / 8)-th output, so eight draws come from one vector step.
///
/// Why: SecAgg's stochastic rounding takes one 64-bit draw per coordinate (199,211 per client
/// and round with the MLP). One xoshiro256** stream is a chain of dependent steps, a few cycles
/// each, and drawing from it was the largest part of a client's quantisation (perf of a run,
/// session 14); eight independent lanes fill an AVX-512 register (two AVX2 ones) per step.
/// Every level (AVX-512, AVX2, the scalar loop here, which is the definition) gives the same
/// numbers.
///
/// Seeding (docs/PROTOCOL.md, section 8): 32 draws of the base stream, four per lane in lane order
/// (lane l's s0, s1, s2, s3 = the base's draws 4l … 4l + 3); a lane whose four words are all 0 (the one
/// state xoshiro cannot leave) gets s0 = 1, as `RandomStream` does. Each lane then steps exactly as
/// `RandomStream.next()`.
public struct RandomLanes: Sendable {
    public static let lanes = 8
    /// s0 of lanes 0…7, then s1, s2, s3: the kernels' layout (one vector per state word).
    private var state: [UInt64]

    public init(seededFrom base: inout RandomStream) {
        var words = (0..<(4 * Self.lanes)).map { _ in base.next() }  // lane-major: lane l's words at 4l…4l+3
        for l in 0..<Self.lanes where words[4 * l ..< 4 * l + 4].allSatisfy({ $0 == 0 }) { words[4 * l] = 1 }
        state = (0..<(4 * Self.lanes)).map { i in words[4 * (i % Self.lanes) + i / Self.lanes] }
    }

    /// The next `groups` × 8 draws into `out`, with the kernel `vectorLevel` names
    /// (`VectorKernels.level`'s scale: 2 AVX-512, 1 AVX2, 0 the scalar loop).
    public mutating func fill(_ out: UnsafeMutablePointer<UInt64>, groups: Int, vectorLevel: Int = VectorKernels.level) {
        guard groups > 0 else { return }
        state.withUnsafeMutableBufferPointer { s in
            let s = s.baseAddress!
            switch vectorLevel {
            #if arch(x86_64)
            case 2: aviary_xoshiro_lanes_avx512(s, out, groups)
            case 1: aviary_xoshiro_lanes_avx2(s, out, groups)
            #endif
            default:
                for g in 0..<groups {
                    for l in 0..<Self.lanes {
                        // xoshiro256** (Blackman & Vigna), as RandomStream.next().
                        let s0 = s[l], s1 = s[8 + l], s2 = s[16 + l], s3 = s[24 + l]
                        out[8 * g + l] = RandomStream.rotl(s1 &* 5, 7) &* 9
                        let t = s1 << 17
                        let n2 = s2 ^ s0, n3 = s3 ^ s1
                        s[8 + l] = s1 ^ n2
                        s[l] = s0 ^ n3
                        s[16 + l] = n2 ^ t
                        s[24 + l] = RandomStream.rotl(n3, 45)
                    }
                }
            }
        }
    }
}
