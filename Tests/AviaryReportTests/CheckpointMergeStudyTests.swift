import Testing
@testable import AviaryReport

/// The checkpoint-merging study's statistics and verdict on hand-made scores.
@Suite struct CheckpointMergeStudyTests {
    typealias S = CheckpointMergeStudy.Scores

    @Test func pairedTTestOnTheDifferences() throws {
        // Differences 0.02, 0.03, 0.04: mean 0.03, sd 0.01, t = 0.03 / (0.01/√3) = 5.196, df 2.
        let t = try #require(PairedTTest([0.62, 0.63, 0.64], [0.60, 0.60, 0.60]))
        #expect(abs(t.t - 5.196152) < 1e-5 && t.degreesOfFreedom == 2)
        // df 2 closed form: p = 1 − |t|/√(2 + t²).
        #expect(abs(t.p - (1 - 5.196152 / (2 + 5.196152 * 5.196152).squareRoot())) < 1e-6)
        #expect(PairedTTest([0.75, 0.5], [0.5, 0.25]) == nil)     // equal differences: no spread
        #expect(PairedTTest([0.7], [0.6]) == nil && PairedTTest([0.7, 0.8], [0.6]) == nil)
    }

    static func study(gain: [Double]) -> CheckpointMergeStudy {
        let uniform = [S(clean: 0.60, robust: 0.30), S(clean: 0.70, robust: 0.35), S(clean: 0.65, robust: 0.33)]
        let weighted = zip(uniform, gain).map { S(clean: $0.clean + $1, robust: $0.robust! - $1 / 2) }
        let flat = zip(uniform, [0.001, 0.002, 0.003]).map { S(clean: $0.clean + $1, robust: $0.robust) }
        let last = zip(uniform, [0.1, 0.12, 0.08]).map { S(clean: $0.clean - $1, robust: $0.robust) }
        let group = CheckpointMergeStudy.Group(
            label: "merge.strategy=fedavg", last: last,
            merges: ["w5 uniform": uniform, "w5 val_loss p=1": weighted, "w5 steps p=1": flat])
        return CheckpointMergeStudy(groups: [group], windows: [5], metrics: ["val_loss", "steps"], penalties: [0, 1], attack: "apgd-ce")
    }

    @Test func aConsistentGainMakesTheClaimHold() {
        let md = Self.study(gain: [0.050, 0.051, 0.049]).markdown()
        #expect(md.contains("The paper's claim (loss-weighted beats uniform, by up to 5 %) **holds** here in 1 setting(s)"), "\(md)")
        #expect(md.contains("Holm p adjusted across all 2 weighted settings"))
        #expect(md.contains("| w5 val_loss p=1 | 3 | 0.700 ± 0.051 | **+0.050** ("), "\(md)")
        // The uniform merge against the last checkpoint: differences 0.1, 0.12, 0.08, t = 8.66 at df 2.
        #expect(md.contains("| w5 uniform (vs last: +0.100, p = 0.013) | 3 |"), "\(md)")
        #expect(md.contains("| last checkpoint | 3 | 0.550 ± 0.044 |  | 0.327 ± 0.025 |  |"), "\(md)")
        // Robust accuracy falls by half the gain in every run: significantly below.
        #expect(md.contains("**−0.025**"), "\(md)")
    }

    @Test func noisyGainsDoNotShowTheClaim() {
        let md = Self.study(gain: [0.04, -0.03, 0.01]).markdown()
        #expect(md.contains("is **not shown** here: of 1 loss-weighted settings, 0 are significantly above"), "\(md)")
        #expect(md.contains("The largest mean gain is +0.007 (merge.strategy=fedavg, w5 val_loss p=1"), "\(md)")
    }
}
