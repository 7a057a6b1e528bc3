import Testing
@testable import AviarySecAgg
import AviaryMath

@Suite struct MaskExpansionTests {
    /// AES-128 with the zero key on the zero block (FIPS-197's known answer 66e94bd4…), and a
    /// seed 0, 1, …, 31 at the first chunk boundary and the 199k MLP's last coordinate, from
    /// Python's `cryptography`: `Cipher(algorithms.AES(seed[:16]), modes.CTR(b"\0" * 16))`.
    /// Pins the PRG docs/PROTOCOL.md specifies, so another implementation can check itself.
    @Test func keystreamIsAES128CTRFromTheZeroCounterBlock() throws {
        let stream = try MaskExpansion.keystream(seed: [UInt8](repeating: 0, count: 32), byteCount: 16)
        #expect(stream == [0x66, 0xe9, 0x4b, 0xd4, 0xef, 0x8a, 0x2c, 0x3b, 0x88, 0x4c, 0xfa, 0x59, 0xca, 0x34, 0x2b, 0x2e])
        let elements = try MaskExpansion.expand(seed: [UInt8](repeating: 0, count: 32), count: 2, modulusBits: 32)
        #expect(elements == [0xd44b_e966, 0x3b2c_8aef])
        let low = try MaskExpansion.expand(seed: [UInt8](repeating: 0, count: 32), count: 2, modulusBits: 20)
        #expect(low == [0xd44b_e966 & 0xFFFFF, 0x3b2c_8aef & 0xFFFFF])
        let counted = try MaskExpansion.expand(seed: (0..<32).map { UInt8($0) }, count: 199_211, modulusBits: 32)
        #expect([0, 1, 16383, 16384, 199_210].map { counted[$0] } == [0x373b_a1c6, 0x825b_8f87, 0x1189_c29e, 0x660b_b2f6, 0xdce1_c8a8])
    }

    /// libgcrypt's keystream (what `apply` adds) is swift-crypto's byte for byte: from any counter
    /// block, including ones whose low 32 bits wrap (AES-NI CTR loops count 32-bit blocks and
    /// carry separately), for lengths that end inside a block, into a dirty output buffer.
    @Test func libgcryptKeystreamIsSwiftCryptos() throws {
        let seeds = [[UInt8](repeating: 0, count: 32), (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 73 &+ 5) }]
        let counters: [UInt64] = [0, 1, 255, 4096, 0xFFFF_FFFE, 0xFFFF_FFFF, 0x1_FFFF_FFFF, 0x00FF_FFFF_FFFF_FFFE]
        let lengths = [1, 15, 16, 17, 4 * 65_536 / 4 + 5, 3 * 16 + 7]
        let zeros = [UInt8](repeating: 0, count: lengths.max()!)
        for seed in seeds {
            let stream = try AESCounterKeystream(key: seed[0..<16])
            for first in counters {
                for n in lengths {
                    var out = [UInt8](repeating: 0xA5, count: n)
                    try out.withUnsafeMutableBytes { o in
                        try zeros.withUnsafeBytes { z in try stream.write(into: o.baseAddress!, byteCount: n, firstBlock: first, zeros: z.baseAddress!) }
                    }
                    #expect(out == (try MaskExpansion.keystream(seed: seed, byteCount: n, firstBlock: first)), "counter \(first), \(n) bytes")
                }
            }
        }
    }

    @Test func addingThenSubtractingTheMaskRestoresTheVector() throws {
        let seed = (0..<32).map { UInt8($0) }
        var v: [UInt32] = [0, 1, 0xFFFF, 12345]
        try MaskExpansion.apply(seed: seed, to: &v, sign: .add, modulusBits: 16)
        #expect(v.allSatisfy { $0 <= 0xFFFF })
        #expect(v != [0, 1, 0xFFFF, 12345])
        try MaskExpansion.apply(seed: seed, to: &v, sign: .subtract, modulusBits: 16)
        #expect(v == [0, 1, 0xFFFF, 12345])
        #expect(throws: SecAggError.wrongSecretLength(expected: 32, got: 3)) { try MaskExpansion.keystream(seed: [1, 2, 3], byteCount: 4) }
    }

    /// Expansion runs chunk by chunk (64 KiB of keystream at a time, the block counter advanced
    /// per chunk): element for element it is the one keystream of a single call, across chunk
    /// boundaries and a last chunk that ends inside a block; apply adds exactly those elements.
    @Test func chunkedExpansionIsTheSingleKeystream() throws {
        let seed = (0..<32).map { UInt8(truncatingIfNeeded: 200 &- $0 &* 7) }
        for count in [MaskExpansion.chunkBytes / 4 - 1, MaskExpansion.chunkBytes / 4, 2 * MaskExpansion.chunkBytes / 4 + 5, 199_211] {
            let bytes = try MaskExpansion.keystream(seed: seed, byteCount: 4 * count)
            let whole = (0..<count).map { i in (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[4 * i + $1]) << (8 * UInt32($1)) } }
            #expect(try MaskExpansion.expand(seed: seed, count: count, modulusBits: 32) == whole)
            #expect(try MaskExpansion.expand(seed: seed, count: count, modulusBits: 20) == whole.map { $0 & 0xFFFFF })
            var v = (0..<count).map { UInt32(truncatingIfNeeded: $0 &* 2_654_435_761) }
            let before = v
            try MaskExpansion.apply(seed: seed, to: &v, sign: .add, modulusBits: 32)
            #expect(v == zip(before, whole).map { $0 &+ $1 })
            try MaskExpansion.apply(seed: seed, to: &v, sign: .subtract, modulusBits: 32)
            #expect(v == before)
        }
    }

    /// The slice-major pass over several masks is the masks applied one by one, across slice
    /// boundaries, with both signs and a ring narrower than 32 bits.
    @Test func manyMasksInOnePassAreTheMasksOneByOne() throws {
        let seeds = (0..<5).map { s in (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ s &* 17) } }
        let masks = seeds.enumerated().map { MaskExpansion.Mask(seed: $0.element, sign: $0.offset % 2 == 0 ? .add : .subtract) }
        for count in [5, MaskExpansion.chunkBytes / 4 + 3, 199_211] {
            let start = (0..<count).map { UInt32(truncatingIfNeeded: $0 &* 40_503) & 0xFFFFFF }
            var oneByOne = start
            for m in masks { try MaskExpansion.apply(seed: m.seed, to: &oneByOne, sign: m.sign, modulusBits: 24) }
            var together = start
            try MaskExpansion.apply(masks, to: &together, modulusBits: 24)
            #expect(together == oneByOne && together != start)
        }
        var v: [UInt32] = [1]
        #expect(throws: SecAggError.wrongSecretLength(expected: 32, got: 2)) {
            try MaskExpansion.apply([MaskExpansion.Mask(seed: [1, 2], sign: .add)], to: &v, modulusBits: 32, threads: 1)
        }
        #expect(throws: SecAggError.wrongSecretLength(expected: 32, got: 2)) {
            try MaskExpansion.apply([MaskExpansion.Mask(seed: [1, 2], sign: .add)], to: &v, modulusBits: 32)
        }
    }

    /// Slices shared out over threads give the single-threaded pass's vector, whatever the
    /// thread count (more threads than slices included), and the reference here is the masks
    /// one by one on one thread.
    @Test func theThreadCountDoesNotChangeTheMaskedVector() throws {
        let seeds = (0..<4).map { s in (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ s &* 101) } }
        let masks = seeds.enumerated().map { MaskExpansion.Mask(seed: $0.element, sign: $0.offset == 1 ? .subtract : .add) }
        let words = MaskExpansion.chunkBytes / 4
        for count in [7, words, 3 * words + 5, 199_211] {
            let start = (0..<count).map { UInt32(truncatingIfNeeded: $0 &* 2_246_822_519) }
            var reference = start
            for m in masks { try MaskExpansion.apply([m], to: &reference, modulusBits: 32, threads: 1) }
            #expect(reference != start)
            for threads in [1, 2, 3, 16] {
                var v = start
                try MaskExpansion.apply(masks, to: &v, modulusBits: 32, threads: threads)
                #expect(v == reference, "count \(count), threads \(threads)")
            }
        }
    }

    /// Each mask-addition kernel the CPU runs is the scalar loop: both signs, a 32- and a
    /// 24-bit ring, keystream words at every byte alignment, lengths around the vector widths.
    @Test(.enabled(if: VectorKernels.level >= 1, "the CPU has no AVX2"))
    func everyMaskAdditionKernelIsTheScalarLoop() {
        var data = RandomStream(seed: 17, purpose: .synthetic)
        for level in 1...VectorKernels.level {
            for count in [1, 7, 8, 9, 15, 16, 17, 100, 16_387] {
                let start = (0..<count).map { _ in UInt32(truncatingIfNeeded: data.next()) }
                let bytes = (0..<(4 * count + 3)).map { _ in UInt8(truncatingIfNeeded: data.next()) }
                for offset in 0..<4 {
                    for sign in [MaskSign.add, .subtract] {
                        for ringMask in [UInt32.max, 0xFF_FFFF] {
                            var scalar = start.map { $0 & ringMask }, vector = scalar
                            bytes.withUnsafeBytes { raw in
                                MaskExpansion.add(raw.baseAddress! + offset, into: &scalar, count: count, sign: sign, ringMask: ringMask, vectorLevel: 0)
                                MaskExpansion.add(raw.baseAddress! + offset, into: &vector, count: count, sign: sign, ringMask: ringMask, vectorLevel: level)
                            }
                            #expect(vector == scalar, "level \(level), n \(count), offset \(offset), \(sign), mask \(ringMask)")
                        }
                    }
                }
            }
        }
    }

    @Test func keystreamGeneratorIsDeterministicPerSeed() throws {
        var a = try KeystreamGenerator(seed: [UInt8](repeating: 1, count: 32))
        var b = try KeystreamGenerator(seed: [UInt8](repeating: 1, count: 32))
        var c = try KeystreamGenerator(seed: [UInt8](repeating: 2, count: 32))
        let xs = (0..<1100).map { _ in a.next() }  // crosses a chunk boundary
        #expect(xs == (0..<1100).map { _ in b.next() })
        #expect(xs.prefix(8) != (0..<8).map { _ in c.next() }[...])
        #expect(Set(xs).count == xs.count)
    }
}

@Suite struct PairwiseKeysTests {
    let a = [UInt8](repeating: 7, count: 32), b = (0..<32).map { UInt8($0 * 3) }

    @Test func bothEndsDeriveTheSameKeyPerPurposeAndRound() throws {
        let pa = try PairwiseKeys.publicKey(ofPrivate: a), pb = try PairwiseKeys.publicKey(ofPrivate: b)
        let ab = try PairwiseKeys.derive(privateKey: a, peerPublic: pb, peer: 1, purpose: .pairwiseMask, round: 3)
        let ba = try PairwiseKeys.derive(privateKey: b, peerPublic: pa, peer: 0, purpose: .pairwiseMask, round: 3)
        #expect(ab == ba && ab.count == 32)
        #expect(try PairwiseKeys.derive(privateKey: a, peerPublic: pb, peer: 1, purpose: .shareEncryption, round: 3) != ab)
        #expect(try PairwiseKeys.derive(privateKey: a, peerPublic: pb, peer: 1, purpose: .pairwiseMask, round: 4) != ab)
        #expect(throws: SecAggError.invalidPublicKey(client: 9)) {
            try PairwiseKeys.derive(privateKey: a, peerPublic: [1, 2], peer: 9, purpose: .pairwiseMask, round: 0)
        }
    }

    /// The agreements shared out over threads are `derive`'s, in the peers' order, whatever the
    /// thread count; a refused peer key is reported as the first failing peer in that order.
    @Test func derivingForManyPeersOverThreadsIsDerivingEach() throws {
        let own = try PairwiseKeys.privateKey(a)
        let peers: [(index: Int, publicKey: [UInt8])] = try (0..<14).map { i in
            (3 * i + 1, try PairwiseKeys.publicKey(ofPrivate: (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 5 &+ i) }))
        }
        let each = try peers.map { try PairwiseKeys.derive(privateKey: a, peerPublic: $0.publicKey, peer: $0.index, purpose: .pairwiseMask, round: 2) }
        #expect(Set(each).count == 14)
        for threads in [1, 2, 3, 5, 14, 20] {
            #expect(try PairwiseKeys.deriveAll(privateKey: own, peers: peers, purpose: .pairwiseMask, round: 2, threads: threads) == each)
        }
        var bad = peers
        bad[9].publicKey = [1, 2]; bad[4].publicKey = []
        for threads in [1, 2, 3] {
            #expect(throws: SecAggError.invalidPublicKey(client: peers[4].index)) {
                try PairwiseKeys.deriveAll(privateKey: own, peers: bad, purpose: .pairwiseMask, round: 2, threads: threads)
            }
        }
        #expect(try PairwiseKeys.deriveAll(privateKey: own, peers: [], purpose: .pairwiseMask, round: 2).isEmpty)
    }

    @Test func sealedSharesOpenOnlyForTheirPairDirectionAndRound() throws {
        var g = RandomStream(seed: 8)
        let m = try ShamirSharing.split(secret: a, threshold: 1, participants: [5], using: &g)[0]
        let s = try ShamirSharing.split(secret: b, threshold: 1, participants: [5], using: &g)[0]
        let pair = ShareEncryption.SharePair(maskKey: m, selfMask: s)
        let key = [UInt8](repeating: 9, count: 32)
        let sealed = try ShareEncryption.seal(pair, key: key, round: 2, from: 1, to: 5)
        #expect(sealed.count == ShareEncryption.ciphertextByteCount)
        #expect(try ShareEncryption.open(sealed, key: key, round: 2, from: 1, to: 5) == pair)
        #expect(throws: SecAggError.decryptionFailed(from: 5, to: 1)) { try ShareEncryption.open(sealed, key: key, round: 2, from: 5, to: 1) }
        #expect(throws: SecAggError.decryptionFailed(from: 1, to: 5)) { try ShareEncryption.open(sealed, key: key, round: 3, from: 1, to: 5) }
        var flipped = sealed; flipped[10] ^= 1
        #expect(throws: SecAggError.decryptionFailed(from: 1, to: 5)) { try ShareEncryption.open(flipped, key: key, round: 2, from: 1, to: 5) }
    }
}

@Suite struct NeighbourGraphTests {
    @Test func harariGraphIsKRegularSymmetricAndSeeded() throws {
        let participants = Array(stride(from: 3, to: 103, by: 2))  // 50 clients
        let g = try NeighbourGraph(participants: participants, degree: 8, seed: 11, round: 4)
        for p in participants {
            let near = g.neighbours(of: p)
            #expect(near.count == 8 && !near.contains(p) && Set(near).count == 8)
            for q in near { #expect(g.areNeighbours(q, p)) }
        }
        #expect(try NeighbourGraph(participants: participants.reversed(), degree: 8, seed: 11, round: 4) == g)
        #expect(try NeighbourGraph(participants: participants, degree: 8, seed: 12, round: 4) != g)
        #expect(try NeighbourGraph(participants: participants, degree: 8, seed: 11, round: 5) != g)
    }

    @Test func largeDegreeIsTheCompleteGraphAndBadDegreesAreRefused() throws {
        let g = try NeighbourGraph(participants: [0, 1, 2, 3], degree: 10, seed: 1, round: 0)
        #expect(g.degree == 3 && g.neighbours(of: 2) == [0, 1, 3])
        #expect(throws: SecAggError.self) { try NeighbourGraph(participants: Array(0..<10), degree: 3, seed: 1, round: 0) }
        #expect(throws: SecAggError.self) { try NeighbourGraph(participants: [1], degree: 2, seed: 1, round: 0) }
        #expect(throws: SecAggError.self) { try NeighbourGraph(participants: [1, 1, 2], degree: 2, seed: 1, round: 0) }
        #expect(NeighbourGraph.defaultDegree(participants: 100) == 14)
        #expect(NeighbourGraph.defaultDegree(participants: 500) == 18)
        #expect(NeighbourGraph.defaultDegree(participants: 5) == 4)
        #expect(NeighbourGraph.defaultThreshold(degree: 14) == 8)
    }
}

@Suite struct FixedPointQuantiserTests {
    @Test func gridPointsAreExactAndRoundingIsUnbiased() throws {
        let q = try FixedPointQuantiser(clippingRange: 1.5, quantisationBits: 2, modulusBits: 8)  // L = 3, step 1
        var s = RandomStream(seed: 1, purpose: .quantisation)
        #expect(try q.quantise([-1.5, 1.5, -5, 5, 0.5], stream: &s) == [0, 3, 0, 3, 2])
        // 0 sits halfway between grid points 1 and 2: the mean of many roundings is 1.5.
        let many = try q.quantise([Double](repeating: 0, count: 20000), stream: &s)
        let mean = Double(many.reduce(0) { $0 + Int($1) }) / 20000
        #expect(abs(mean - 1.5) < 0.02)
        #expect(throws: SecAggError.nonFiniteInput(index: 1)) { try q.quantise([0, .nan], stream: &s) }
    }

    /// The rounding, written the plain way (floor, then + 1 when draw j, as a double in [0, 1),
    /// falls below the fraction; draw j from `RandomLanes`' scalar definition seeded from the
    /// stream): the block-wise, branch-free loop must give the same numbers from the same draws.
    @Test func roundingMatchesThePlainDefinition() throws {
        let q = try FixedPointQuantiser(clippingRange: 0.01, quantisationBits: 16, modulusBits: 32)
        var data = RandomStream(seed: 5, purpose: .synthetic)
        let values = (0..<3001).map { _ in data.normal() * 0.008 }  // some beyond ±c, several blocks, a partial lane group
        var a = RandomStream(seed: 9, purpose: .quantisation), b = a
        var lanes = RandomLanes(seededFrom: &b)
        var draws = [UInt64](repeating: 0, count: 3008)
        draws.withUnsafeMutableBufferPointer { lanes.fill($0.baseAddress!, groups: 376, vectorLevel: 0) }
        let scale = Double(q.levels) / 0.02
        let plain: [UInt32] = values.enumerated().map { j, x in
            let scaled = (min(max(x, -0.01), 0.01) + 0.01) * scale
            var r = scaled.rounded(.down)
            if Double(draws[j] >> 11) * 0x1.0p-53 < scaled - r { r += 1 }
            return UInt32(min(r, Double(q.levels)))
        }
        #expect(try q.quantise(values, stream: &a) == plain)
        #expect(a.next() == b.next())  // the stream gave the lanes their 32 seeding draws, no more
    }

    /// The eight-lane draws round without bias lane by lane, and round-ups are independent
    /// between neighbouring coordinates (two lanes) and coordinates eight apart (one lane's
    /// consecutive draws). x = −0.2 on L = 3, c = 1.5 lands on 1.3: up with probability 0.3.
    /// Bounds are 5 standard errors.
    @Test func laneDrawsRoundWithoutBiasAndIndependently() throws {
        let q = try FixedPointQuantiser(clippingRange: 1.5, quantisationBits: 2, modulusBits: 8)
        let n = 80_000, p = 0.3
        for seed: UInt64 in [1, 2] {
            var s = RandomStream(seed: seed, purpose: .quantisation)
            let out = try q.quantise([Double](repeating: -0.2, count: n), stream: &s)
            #expect(out.allSatisfy { $0 == 1 || $0 == 2 })
            let up = out.map { $0 == 2 ? 1.0 : 0.0 }
            for lane in 0..<RandomLanes.lanes {
                let picks = stride(from: lane, to: n, by: RandomLanes.lanes).map { up[$0] }
                let mean = picks.reduce(0, +) / Double(picks.count)
                #expect(abs(mean - p) < 5 * (p * (1 - p) / Double(picks.count)).squareRoot(), "seed \(seed), lane \(lane): \(mean)")
            }
            for gap in [1, RandomLanes.lanes] {
                let both = (0..<(n - gap)).reduce(0.0) { $0 + up[$1] * up[$1 + gap] } / Double(n - gap)
                #expect(abs(both - p * p) < 5 * (p * p * (1 - p * p) / Double(n - gap)).squareRoot(), "seed \(seed), gap \(gap): \(both)")
            }
        }
    }

    /// The client's fused pass (weigh, clip, quantise the f32 delta) is the two-step
    /// `quantise(WeightedInput.make(…))`: the same integers, the same draws, the same errors.
    @Test func fusedWeightedQuantisationIsTheTwoStepOne() throws {
        let q = try FixedPointQuantiser(clippingRange: 0.01, quantisationBits: 16, modulusBits: 32)
        var data = RandomStream(seed: 6, purpose: .synthetic)
        let delta = (0..<2500).map { _ in Float(data.normal() * 0.01) }
        for w in [1.0, 0.37, 1e-3] {
            var a = RandomStream(seed: 4, purpose: .quantisation), b = a, c = a
            let fused = try q.quantiseWeighted(delta: delta, weight: w, stream: &a)
            #expect(fused == (try q.quantise(try WeightedInput.make(delta: delta, weight: w, clippingRange: 0.01), stream: &b)))
            #expect(fused.count == delta.count + 1 && a.next() == b.next())
            // Into a reply body: the same words, laid out as the codec writes the masked input.
            let body = try q.quantiseWeightedBody(delta: delta, weight: w, stream: &c)
            #expect(body.bytes == SecAggBodyCodec.encode(.masked(MaskedInput(client: 0, values: fused))).body)
        }
        var s = RandomStream(seed: 1)
        #expect(throws: SecAggError.nonFiniteInput(index: 2)) { try q.quantiseWeighted(delta: [0, 1, .infinity], weight: 1, stream: &s) }
        #expect(throws: SecAggError.nonFiniteInput(index: 2)) { try q.quantiseWeightedBody(delta: [0, 1, .infinity], weight: 1, stream: &s) }
        #expect(throws: SecAggError.self) { try q.quantiseWeighted(delta: [0], weight: 1.5, stream: &s) }
    }

    /// The rounding kernels the CPU runs (AVX-512, AVX2; the scalar loop always), each against
    /// the plain definition written out here, on crafted draws: u exactly equal to the fraction
    /// (a tie rounds down), u one step either side of it, u = 0 and u's largest value, values at
    /// ±c, beyond it, ±0, subnormal and the largest floats, several weights, the top grid point
    /// for L = 2^31 − 1, and lengths around the kernels' widths (masked and scalar tails).
    @Test func scalarRoundingIsThePlainDefinition() throws { try checkRoundingKernel(vectorLevel: 0) }
    @Test(.enabled(if: VectorKernels.level >= 1, "the CPU has no AVX2"))
    func avx2RoundingIsThePlainDefinition() throws { try checkRoundingKernel(vectorLevel: 1) }
    @Test(.enabled(if: VectorKernels.level >= 2, "the CPU has no AVX-512"))
    func avx512RoundingIsThePlainDefinition() throws { try checkRoundingKernel(vectorLevel: 2) }

    private func checkRoundingKernel(vectorLevel: Int) throws {
        func plain(_ q: FixedPointQuantiser, _ x: Float, _ w: Double, _ draw: UInt64) -> UInt32 {
            let c = q.clippingRange
            let scaled = (min(max(w * min(max(Double(x), -c), c), -c), c) + c) * (Double(q.levels) / (2 * c))
            var r = scaled.rounded(.down)
            if Double(draw >> 11) * 0x1.0p-53 < scaled - r { r += 1 }
            return UInt32(min(r, Double(q.levels)))
        }
        func kernel(_ q: FixedPointQuantiser, _ x: [Float], _ w: Double, _ draws: [UInt64]) -> [UInt32] {
            var out = [UInt32](repeating: .max, count: x.count + 1)  // one past the end: must stay untouched
            out.withUnsafeMutableBufferPointer { o in
                // Every x here is finite (the largest floats included): nothing may be flagged.
                #expect(!q.roundWeighted(o.baseAddress!, x, draws, count: x.count, weight: w, vectorLevel: vectorLevel))
            }
            #expect(out.last == .max)
            return Array(out.dropLast())
        }
        // L = 3 on [−1.5, 1.5]: scale 1, so x = 0 lands on 1.5 and a draw of 2^63 is u = 0.5 exactly.
        let small = try FixedPointQuantiser(clippingRange: 1.5, quantisationBits: 2, modulusBits: 8)
        let half: UInt64 = 1 << 63, ulp: UInt64 = 1 << 11
        let tieX: [Float] = [0, 0, 0, 0.25, 0.25, -1.5, 1.5, 1, -0.0, 2]
        let tieDraws: [UInt64] = [half, half - ulp, half + ulp, 3 << 62, (3 << 62) - ulp, .max, .max, 0, half, .max]
        let ties = kernel(small, tieX, 1, tieDraws)
        #expect(ties == zip(tieX, tieDraws).map { plain(small, $0, 1, $1) })
        #expect(ties == [1, 2, 1, 1, 2, 0, 3, 3, 1, 3])

        var data = RandomStream(seed: 21, purpose: .synthetic)
        let edges: [Float] = [0, -0.0, 0.015625, -0.015625, 0.02, -0.02, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
                              .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 0.0078125, -0.0078125]
        for (c, qBits, mBits) in [(0.015625, 16, 32), (0.01, 16, 32), (0.015625, 31, 32), (3.0, 8, 20)] {
            let q = try FixedPointQuantiser(clippingRange: c, quantisationBits: qBits, modulusBits: mBits)
            for count in [1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 1023, 1024, 1025] {
                let x = (0..<count).map { i in i % 5 == 0 ? edges[(i / 5) % edges.count] : Float(data.normal() * c) }
                var draws = (0..<count).map { _ in data.next() }
                if count > 2 { draws[0] = 0; draws[1] = .max }
                for w in [1.0, 0.37, 1e-3, 1e-300] {
                    #expect(kernel(q, x, w, draws) == zip(x, draws).map { plain(q, $0, w, $1) }, "c \(c), L bits \(qBits), n \(count), w \(w)")
                }
            }
            // The top of the grid: every coordinate at +c, every draw the largest.
            #expect(kernel(q, [Float](repeating: .greatestFiniteMagnitude, count: 9), 1, [UInt64](repeating: .max, count: 9))
                    == [UInt32](repeating: UInt32(q.levels), count: 9))
        }
    }

    /// The fused pass gives the same integers and leaves the stream in the same place with
    /// every kernel, on a model-sized delta (blocks of draws, the weight coordinate last).
    @Test(.enabled(if: VectorKernels.level >= 1, "the CPU has no AVX2"))
    func fusedQuantisationIsTheSameWithEveryKernel() throws {
        for level in 1...VectorKernels.level { try checkFused(vectorLevel: level) }
    }

    private func checkFused(vectorLevel: Int) throws {
        let q = try FixedPointQuantiser(clippingRange: 0.01, quantisationBits: 16, modulusBits: 32)
        var data = RandomStream(seed: 8, purpose: .synthetic)
        let delta = (0..<5000).map { _ in Float(data.normal() * 0.01) }
        for count in [0, 1, 1023, 1024, 5000] {
            var a = RandomStream(seed: 3, purpose: .quantisation), b = a
            let vectorised = try q.quantiseWeighted(delta: Array(delta[0..<count]), weight: 0.6, stream: &a, vectorLevel: vectorLevel)
            #expect(vectorised == (try q.quantiseWeighted(delta: Array(delta[0..<count]), weight: 0.6, stream: &b, vectorLevel: 0)))
            #expect(a.next() == b.next())
        }
        // The kernel's own finiteness flag finds a NaN or infinity anywhere: full vectors, the
        // masked or scalar tail, a block's first and last coordinate.
        var s = RandomStream(seed: 2, purpose: .quantisation)
        for at in [0, 3, 7, 8, 1023, 1024, 4991, 4996, 4998] {
            for bad: Float in [.nan, .infinity, -.infinity, .signalingNaN] {
                var d = Array(delta[0..<4999])  // 4999 = 624·8 + 7 = 1249·4 + 3: both kernels' tails
                d[at] = bad
                #expect(throws: SecAggError.nonFiniteInput(index: at), "level \(vectorLevel), at \(at), \(bad)") {
                    try q.quantiseWeighted(delta: d, weight: 0.6, stream: &s, vectorLevel: vectorLevel)
                }
            }
        }
    }

    /// The branch-free scan finds the first infinity or NaN (quiet, signalling, negative) at any
    /// position, and nothing in finite vectors that include the largest floats and subnormals.
    @Test func firstNonFiniteIsFirstIndexOfNotFinite() {
        let finite: [Float] = [0, -0.0, 1, -1, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude,
                               -.leastNormalMagnitude, Float(bitPattern: 0x7f7f_ffff), Float(bitPattern: 0xff7f_ffff)]
        #expect(FixedPointQuantiser.firstNonFinite(finite) == nil)
        #expect(FixedPointQuantiser.firstNonFinite([]) == nil)
        for bad: Float in [.infinity, -.infinity, .nan, -.nan, .signalingNaN, Float(bitPattern: 0x7fff_ffff), Float(bitPattern: 0xff80_0001)] {
            for at in [0, 3, 9, 40] {
                var v = (0..<41).map { Float($0) * 0.25 - 5 }
                v[at] = bad
                v[40] = .nan  // a later one must not hide the first
                #expect(FixedPointQuantiser.firstNonFinite(v) == v.firstIndex { !$0.isFinite })
                #expect(FixedPointQuantiser.firstNonFinite(v) == at)
            }
        }
    }

    @Test func sumsThatCouldWrapAreRefused() throws {
        let q = try FixedPointQuantiser(clippingRange: 0.5, quantisationBits: 16, modulusBits: 32)
        #expect(q.maxClients == 65537)
        try q.validate(clients: 65537)
        #expect(throws: SecAggError.sumCouldWrap(clients: 65538, levels: 65535, modulusBits: 32)) { try q.validate(clients: 65538) }
        #expect(throws: SecAggError.self) { try FixedPointQuantiser(clippingRange: 1, quantisationBits: 8, modulusBits: 8) }
        #expect(throws: SecAggError.self) { try FixedPointQuantiser(clippingRange: 0, quantisationBits: 8, modulusBits: 16) }
        #expect(throws: SecAggError.self) { try FixedPointQuantiser(clippingRange: 1, quantisationBits: 8, modulusBits: 33) }
    }

    @Test func weightedMeanComesBackWithinTheQuantisationStep() throws {
        let c = 0.25
        let q = try FixedPointQuantiser(clippingRange: c, quantisationBits: 20, modulusBits: 32)
        let deltas: [[Float]] = [[0.1, -0.2, 0.05], [0.02, 0.3, -0.1], [-0.05, 0.0, 0.2]]  // 0.3 clips to 0.25
        let weights = [1.0, 0.5, 0.25]
        var s = RandomStream(seed: 2, purpose: .quantisation)
        var sum = [UInt32](repeating: 0, count: 4)
        for (d, w) in zip(deltas, weights) {
            RingArithmetic.add(try q.quantise(try WeightedInput.make(delta: d, weight: w, clippingRange: c), stream: &s), into: &sum, bits: 32)
        }
        let (mean, total) = try WeightedInput.mean(ofDequantisedSum: q.dequantiseSum(sum, clients: 3), clippingRange: c)
        #expect(abs(total - 1.75) < 3 * q.step / c)
        let clipped: [[Double]] = deltas.map { $0.map { min(max(Double($0), -c), c) } }
        for j in 0..<3 {
            let exact = zip(clipped, weights).reduce(0.0) { $0 + $1.0[j] * $1.1 } / 1.75
            #expect(abs(Double(mean[j]) - exact) < 1e-5)
        }
        #expect(throws: SecAggError.self) { try WeightedInput.make(delta: [0], weight: 1.5, clippingRange: c) }
        #expect(throws: SecAggError.self) { try WeightedInput.make(delta: [0], weight: 0, clippingRange: c) }
    }
}
