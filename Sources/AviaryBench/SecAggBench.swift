import AviaryMath
import AviaryMerge
import AviarySecAgg

/// What secure aggregation costs, from the pure layer (`aviary bench secagg`): the mask PRG,
/// one client's masking, and whole in-memory rounds (every client and the server on this one
/// thread, no sockets) with and without dropouts, beside the plain uniform merge of the same
/// f32 deltas. A run adds messages, the log and the clients' training: this is the floor of SecAgg's cost, not a run's.
public enum SecAggBench {
    public static func run(parameters p: Int = 199_210, clients n: Int = 100, repetitions: Int = 3) -> String {
        var rng = RandomStream(seed: 1, purpose: .synthetic)
        let deltas = (0..<n).map { _ in (0..<p).map { _ in Float(rng.normal() * 1e-3) } }
        let settings = (k: NeighbourGraph.defaultDegree(participants: n), bits: 16, modulus: 32)
        let t = NeighbourGraph.defaultThreshold(degree: settings.k)
        guard let quantiser = try? FixedPointQuantiser(clippingRange: 0.01, quantisationBits: settings.bits, modulusBits: settings.modulus),
              let parameters = try? SecAggParameters(round: 1, participants: Array(0..<n), degree: settings.k, threshold: t,
                                                     graphSeed: 7, quantiser: quantiser, vectorLength: p + 1)
        else { return "secagg bench: the parameters were refused" }
        var inputs: [Int: [UInt32]] = [:]
        let quantise = MergeBench.medianTime(1) {
            for (i, d) in deltas.enumerated() {
                var stream = RandomStream(seed: 3, purpose: .quantisation, index: UInt64(i))
                inputs[i] = try? quantiser.quantiseWeighted(delta: d, weight: 1, stream: &stream)
            }
        } / Double(n)
        let seed = [UInt8](repeating: 9, count: 32)
        let prg = MergeBench.medianTime(repetitions) { _ = try? MaskExpansion.expand(seed: seed, count: p + 1, modulusBits: 32) }
        func round(dropping dropped: Int) -> (seconds: Double, exact: Bool) {
            var exact = true
            let seconds = MergeBench.medianTime(repetitions) {
                guard var r = try? InMemorySecAggRound(parameters: parameters, inputs: inputs) else { exact = false; return }
                for c in 0..<dropped { r.deaths[c * (n / max(dropped, 1))] = .beforeMasking }
                guard case .success(let result) = r.run() else { exact = false; return }
                var plain = [UInt32](repeating: 0, count: p + 1)
                for c in result.survivors { RingArithmetic.add(inputs[c]!, into: &plain, bits: 32) }
                exact = exact && plain == result.sum
            }
            return (seconds, exact)
        }
        let full = round(dropping: 0), lossy = round(dropping: n / 10)
        let updates = deltas.enumerated().map { ClientUpdate(clientIndex: $0.offset, samples: 1, metrics: [:], delta: $0.element) }
        let plain = MergeBench.medianTime(repetitions) { _ = try? aggregate(updates, strategy: .uniform) }
        let k = settings.k
        let up = [64, k * (4 + ShareEncryption.ciphertextByteCount) + 4, 4 * (p + 1) + 4, k * (4 + ShamirShare.byteCount) + 8]
        return [
            "secagg bench: P = \(p) parameters (+1 weight coordinate), n = \(n) clients, k = \(k), t = \(t), \(settings.bits)-bit grid in Z_2^\(settings.modulus), median of \(repetitions) runs",
            String(format: "PRG: one expansion of P + 1 elements (AES-128-CTR) %8.2f ms", prg * 1e3),
            String(format: "client: weigh, clip, quantise Δ (stochastic rounding) %6.2f ms", quantise * 1e3),
            String(format: "client: mask = 1 + k expansions, about             %8.2f ms", Double(k + 1) * prg * 1e3),
            String(format: "round, in memory, all %d clients and the server:   %8.2f s  (sum exact: %@)", n, full.seconds, full.exact ? "yes" : "NO"),
            String(format: "  with %d clients dropped before masking:          %8.2f s  (sum exact: %@)", n / 10, lossy.seconds, lossy.exact ? "yes" : "NO"),
            String(format: "plain uniform merge of the same %d f32 deltas:     %8.2f ms", n, plain * 1e3),
            "bytes up per client, stage bodies 1-4: \(up.map(String.init).joined(separator: " / ")) (plain f32 delta: \(4 * p))",
        ].joined(separator: "\n")
    }
}
