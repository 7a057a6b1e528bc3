import ArgumentParser
import Foundation
import AviaryPrivacy

/// `aviary epsilon`: the RDP accountant on its own, for planning and for the test that checks it
/// against Google's dp-accounting (Tests/Python/test_accountant.py).
struct EpsilonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "epsilon",
        abstract: "The (ε, δ) that rounds of the subsampled Gaussian mechanism spend (RDP accountant).",
        discussion: "Orders: dp-accounting's DEFAULT_RDP_ORDERS (1.1 … 10.9, 11 … 63, 128, 256, 512, 1024). docs/PRIVACY.md explains the bound.")

    @Option(name: .customLong("sampling-rate"), help: "q: each client's probability of being in a round (0...1).")
    var samplingRate: Double

    @Option(help: "poisson (add-or-remove-one) or without-replacement (a fixed-size sample of q·N; replace-one adjacency, where a clipped sum's sensitivity is 2S: give z/2 for a topology's z).")
    var sampling: String = SampledGaussianAccountant.Sampling.poisson.rawValue

    @Option(name: .customLong("noise-multiplier"), help: "z: noise std / sensitivity (≥ 0).")
    var noiseMultiplier: Double

    @Option(name: .customLong("rounds"), help: "Rounds composed (repeat for several).")
    var rounds: [Int]

    @Option(help: "δ in (0, 1).")
    var delta: Double = 1e-5

    @Flag(help: "Print JSON: {\"epsilon\": [...], \"order\": [...]} in the order of --rounds.")
    var json = false

    func validate() throws {
        guard (0...1).contains(samplingRate) else { throw ValidationError("--sampling-rate must be in 0...1, not \(samplingRate)") }
        guard SampledGaussianAccountant.Sampling(rawValue: sampling) != nil else {
            throw ValidationError("--sampling must be one of \(SampledGaussianAccountant.Sampling.allCases.map(\.rawValue).joined(separator: ", ")), not \(sampling)")
        }
        guard noiseMultiplier >= 0, noiseMultiplier.isFinite else { throw ValidationError("--noise-multiplier must be ≥ 0, not \(noiseMultiplier)") }
        guard delta > 0, delta < 1 else { throw ValidationError("--delta must be in (0, 1), not \(delta)") }
        guard !rounds.isEmpty, rounds.allSatisfy({ $0 >= 0 }) else { throw ValidationError("--rounds must be given, each ≥ 0") }
    }

    func run() throws {
        let accountant = SampledGaussianAccountant(samplingRate: samplingRate, noiseMultiplier: noiseMultiplier,
                                                   sampling: SampledGaussianAccountant.Sampling(rawValue: sampling)!)
        let results = rounds.map { accountant.epsilon(rounds: $0, delta: delta) }
        if json {
            // JSON has no infinity: an unbounded ε is null.
            let eps = results.map { $0.epsilon.isFinite ? "\($0.epsilon)" : "null" }.joined(separator: ", ")
            let orders = results.map { "\($0.order)" }.joined(separator: ", ")
            print("{\"epsilon\": [\(eps)], \"order\": [\(orders)]}")
        } else {
            for (r, e) in zip(rounds, results) {
                print("rounds \(r): ε = \(String(format: "%.6g", e.epsilon)) at δ = \(delta) (order \(e.order))")
            }
        }
    }
}
