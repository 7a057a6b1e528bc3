import AviaryMath
import AviaryMerge
import AviaryPrivacy

/// What central DP costs a round, and what the accountant costs: the plain uniform merge of n
/// client deltas beside DP-FedAvg's (clip every delta, sum, Gaussian noise on every coordinate),
/// and ε after one more round. Medians of repetitions, measured side by side.
public enum PrivacyBench {
    public static func run(parameters p: Int = 199_210, clients n: Int = 100, repetitions: Int = 7) -> String {
        var rng = RandomStream(seed: 1, purpose: .synthetic)
        let updates = (0..<n).map { i in
            ClientUpdate(clientIndex: i, samples: 100, metrics: ["train_loss": rng.uniform(0.1, 2)],
                         delta: (0..<p).map { _ in Float(rng.normal() * 1e-3) })
        }
        var settings = PrivacySettings()
        settings.mode = .central
        settings.noiseMultiplier = 1
        let plain = MergeBench.medianTime(repetitions) { _ = try? aggregate(updates, strategy: .uniform) }
        let dp = MergeBench.medianTime(repetitions) {
            var stream = GaussianNoise.serverStream(seed: 1, round: 1)
            _ = CentralAggregation.merge(updates, parameterCount: p, strategy: .uniform, settings: settings,
                                         clipNorm: 0.1, expectedClients: Double(n), stream: &stream)
        }
        let noiseOnly = MergeBench.medianTime(repetitions) {
            var x = [Float](repeating: 0, count: p)
            var stream = GaussianNoise.serverStream(seed: 1, round: 1)
            GaussianNoise.add(to: &x, std: 1, stream: &stream)
        }
        let build = MergeBench.medianTime(repetitions) { _ = SampledGaussianAccountant(samplingRate: 0.1, noiseMultiplier: 1) }
        let accountant = SampledGaussianAccountant(samplingRate: 0.1, noiseMultiplier: 1)
        let perRound = MergeBench.medianTime(repetitions) {
            for r in 1...1000 { _ = accountant.epsilon(rounds: r, delta: 1e-5) }
        } / 1000
        let plan = MergeBench.medianTime(repetitions) {
            let a = SampledGaussianAccountant(samplingRate: 0.1, noiseMultiplier: 1)
            _ = a.epsilon(rounds: 10_000, delta: 1e-5)
        }
        // Fixed-size sampling's bound (O(α²) per order up to 256): what `aviary validate` builds
        // for a topology that samples a fixed subset.
        let planWithout = MergeBench.medianTime(repetitions) {
            let a = SampledGaussianAccountant(samplingRate: 0.1, noiseMultiplier: 0.5, sampling: .withoutReplacement)
            _ = a.epsilon(rounds: 10_000, delta: 1e-5)
        }
        // Local DP's per-client ε: the worst round, n reporters with n different report counts
        // (the server computes one ε per distinct count).
        let local = SampledGaussianAccountant(samplingRate: 1, noiseMultiplier: 0.5)
        let perClient = MergeBench.medianTime(repetitions) {
            for k in 1...n { _ = local.epsilon(rounds: k, delta: 1e-5) }
        }
        return [
            "privacy bench: P = \(p) parameters, n = \(n) clients, median of \(repetitions) runs",
            String(format: "merge  uniform (no DP)        %8.2f ms", plain * 1e3),
            String(format: "merge  DP-FedAvg (clip+noise) %8.2f ms   (+%.2f ms; the noise alone %.2f ms)", dp * 1e3, (dp - plain) * 1e3, noiseOnly * 1e3),
            String(format: "accountant: setup (RDP at %d orders) %.3f ms once per run; ε after a round %.4f ms",
                   SampledGaussianAccountant.defaultOrders.count, build * 1e3, perRound * 1e3),
            String(format: "accountant: ε of a 10,000-round plan (setup + ε) %.3f ms; fixed-size sampling's bound %.3f ms", plan * 1e3, planWithout * 1e3),
            String(format: "accountant: local DP, ε of %d reporting clients with %d different counts %.3f ms a round (worst case)", n, n, perClient * 1e3),
            "targets: central DP < 2 % of round time (compare the added ms with `aviary logs`' sec column); accountant < 10 ms a round; "
                + "a 10,000-round plan's ε < 1 s",
        ].joined(separator: "\n")
    }
}
