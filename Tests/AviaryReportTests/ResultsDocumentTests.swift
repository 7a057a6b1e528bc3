import Foundation
import Testing
@testable import AviaryReport
import AviaryLog

/// The generated results document: its statistics and the sentences computed from them.
@Suite struct ResultsDocumentTests {
    @Test func welchTestMatchesAHandComputation() throws {
        // a = 0.70 ± 0.01, b = 0.60 ± 0.01, n = 3 each: t = 0.1 / sqrt(2 · 0.0001/3) = 12.247, df = 4.
        let a = try #require(MeanStd([0.69, 0.70, 0.71])), b = try #require(MeanStd([0.59, 0.60, 0.61]))
        let t = try #require(WelchTest(a, b))
        #expect(abs(t.t - 12.2474) < 1e-3 && abs(t.degreesOfFreedom - 4) < 1e-9)
        // Reference: 2·∫_t^∞ of the t density, df 4, by Simpson's rule (computed offline).
        #expect(abs(t.p - 0.0002552207) < 1e-8 && t.significant)
        // Overlapping seeds: not significant.
        let c = try #require(MeanStd([0.60, 0.70, 0.65])), d = try #require(MeanStd([0.62, 0.66, 0.64]))
        #expect(WelchTest(c, d)?.significant == false)
        #expect(WelchTest(try #require(MeanStd([0.5])), d) == nil)
    }

    /// Closed forms of the regularised incomplete beta, and two-sided t p-values at fractional
    /// degrees of freedom against an independent computation: Simpson's rule over the t density
    /// (200,000 panels, Python's math.lgamma, computed offline), and the textbook t₀.₉₇₅ table.
    @Test func tDistributionPValuesAtFractionalDegreesOfFreedom() {
        for x in [0.01, 0.2, 0.5, 0.77, 0.99] {
            #expect(abs(StudentT.regularizedIncompleteBeta(x: x, a: 2.5, b: 1) - pow(x, 2.5)) < 1e-12)
            #expect(abs(StudentT.regularizedIncompleteBeta(x: x, a: 1, b: 3.5) - (1 - pow(1 - x, 3.5))) < 1e-12)
            #expect(abs(StudentT.regularizedIncompleteBeta(x: x, a: 0.5, b: 0.5) - 2 / Double.pi * asin(x.squareRoot())) < 1e-12)
        }
        let reference: [(t: Double, df: Double, p: Double)] = [
            (1.5, 2.5, 0.24783645308630245), (2.0, 4.7, 0.10557218220343899), (3.1, 7.3, 0.016430118131617148),
            (0.5, 1.3, 0.6885077990426063), (4.0, 3.2, 0.024817461725748943), (2.776, 4, 0.050022778319976986),
            (2.228, 10, 0.050011771817110744),
        ]
        for r in reference {
            let p = StudentT.twoSidedP(t: r.t, degreesOfFreedom: r.df)
            #expect(abs(p - r.p) < 1e-7, "t \(r.t), df \(r.df): \(p) against \(r.p)")
            #expect(abs(StudentT.twoSidedP(t: -r.t, degreesOfFreedom: r.df) - p) < 1e-15)
        }
        // Cauchy (df 1) and df 2 closed forms.
        #expect(abs(StudentT.twoSidedP(t: 3, degreesOfFreedom: 1) - (1 - 2 / Double.pi * atan(3))) < 1e-12)
        #expect(abs(StudentT.twoSidedP(t: 1.7, degreesOfFreedom: 2) - (1 - 1.7 / (2 + 1.7 * 1.7).squareRoot())) < 1e-12)
        // Flooring df made the old test conservative: df 4.9 at t = 2.7 is significant, df 4 is not.
        #expect(StudentT.twoSidedP(t: 2.7, degreesOfFreedom: 4.9) < 0.05 && StudentT.twoSidedP(t: 2.7, degreesOfFreedom: 4) > 0.05)
        #expect(StudentT.twoSidedP(t: 0, degreesOfFreedom: 3) == 1 && StudentT.twoSidedP(t: .infinity, degreesOfFreedom: 3) == 0)
    }

    @Test func holmBonferroniStepsDownAndStaysMonotone() {
        // m = 4: sorted 0.01, 0.02, 0.03, 0.5 → 0.04, 0.06, 0.06 (monotone), 0.5.
        let adjusted = HolmBonferroni.adjust([0.03, 0.5, 0.01, 0.02])
        let expected = [0.06, 0.5, 0.04, 0.06]
        #expect(zip(adjusted, expected).allSatisfy { abs($0 - $1) < 1e-12 }, "\(adjusted)")
        #expect(HolmBonferroni.adjust([0.6, 0.7]) == [1, 1])
        #expect(HolmBonferroni.adjust([]).isEmpty)
    }

    @Test func holmAdjustmentCanTurnASingleTestsSignificanceOff() {
        // p ≈ 0.03 alone is significant; beside three settings at p ≈ 0.9 it is adjusted to ≈ 0.12.
        let base = Self.group("base", [0.60, 0.61, 0.62])
        let near = Self.group("near", [0.625, 0.635, 0.645])
        let alone = ResultsDocument.Study(title: "t", sources: [], fixed: [], groups: [base, near], baseline: "base", robustAttack: nil)
        let doc = ResultsDocument(studies: [alone], lastK: 10, command: "c", build: "b", date: "d", suiteSeconds: nil)
        #expect(doc.comparisons(alone).contains("1 setting(s) significantly above"), "\(doc.comparisons(alone))")
        let crowd = ResultsDocument.Study(title: "t", sources: [], fixed: [],
                                          groups: [base, near] + (0..<3).map { Self.group("same\($0)", [0.60, 0.612, 0.62]) },
                                          baseline: "base", robustAttack: nil)
        let text = doc.comparisons(crowd)
        #expect(text.contains("0 setting(s) significantly above") && text.contains("Holm p = "), "\(text)")
    }

    @Test func eachStudySaysWhichBuildsMadeItsRuns() {
        #expect(ResultsDocument.provenance(["0123456789abcdef": 6]) == "made by build 0123456789ab")
        #expect(ResultsDocument.provenance(["": 3]) == "made by a build the logs do not record")
        // A build made without make, and a dirty tree's describe name, are not cut mid-word.
        #expect(ResultsDocument.provenance(["unknown (built without make)": 2])
                == "made by a build without a recorded commit (built without make)")
        #expect(ResultsDocument.provenance(["e7120ba5d1c2-dirty": 1]) == "made by build e7120ba5d1c2-dirty")
        #expect(ResultsDocument.provenance(["bbb": 2, "aaa": 2, "": 40])
                == "made by a build the logs do not record (40 runs), build aaa (2 runs), build bbb (2 runs)")
        #expect(ResultsDocument.provenance(["aaa": 1, "bbb": 2]) == "made by build bbb (2 runs), build aaa (1 run)")
    }

    @Test func entropyAndWeightSkew() throws {
        #expect(WeightSkew.entropy([5, 5]) == 1 && WeightSkew.entropy([10, 0]) == 0 && WeightSkew.entropy([]) == 0)
        // The shared fixture: client 0 holds one class (0 bits), client 1 three classes (1.522 bits).
        var log = ReportTests.log(name: "a")
        for i in log.records.indices {
            guard case var .round(r) = log.records[i] else { continue }
            r.accepted = [0, 1]; r.weights = ["0": 0.75, "1": 0.25]
            log.records[i] = .round(r)
        }
        let skew = try #require(WeightSkew(log: log))
        let h1 = WeightSkew.entropy([1, 2, 2])
        // Weighted 0.25 · h1 against plain h1 / 2: a gap of −h1 / 4 every round.
        #expect(abs(skew.entropyGap + h1 / 4) < 1e-12 && abs(skew.meanEntropy - h1 / 2) < 1e-12)
        #expect(skew.lowEntropyShare == 0.75 && skew.rounds == 4)
    }

    @Test func pivotTableSpreadsASettingOverColumns() {
        func g(_ strategy: String, _ kind: String, _ v: Double) -> ResultsDocument.Group {
            var group = Self.group("\(kind) \(strategy)", [v, v + 0.02])
            group.settings = ["merge.strategy": strategy, "attackers.kind": kind]
            return group
        }
        let study = ResultsDocument.Study(
            title: "Byzantine", sources: ["runs/b"], fixed: [],
            groups: [g("fedavg", "none", 0.70), g("median", "none", 0.68), g("fedavg", "sign_flip", 0.10), g("median", "sign_flip", 0.66)],
            baseline: nil, robustAttack: nil, pivot: "merge.strategy")
        let md = ResultsDocument(studies: [study], lastK: 5, command: "make experiments", build: "b", date: "d", suiteSeconds: nil).markdown()
        #expect(md.contains("| setting | merge.strategy=fedavg | merge.strategy=median |"), "\(md)")
        #expect(md.contains("| attackers.kind=sign_flip | 0.110 ± 0.014 | 0.670 ± 0.014 |"), "\(md)")
    }

    static func group(_ label: String, _ values: [Double]) -> ResultsDocument.Group {
        // Runs whose every evaluation equals `value`: last-K and final are that value.
        let outcomes = values.map { v -> RunOutcome in
            var o = RunOutcome(log: ReportTests.log(name: label), lastK: 10)
            o.finalClean = v; o.lastKClean = v; o.finalRobust = nil; o.lastKRobust = nil
            return o
        }
        return .init(label: label, summary: SeedGroupSummary(label: label, outcomes: outcomes), skew: nil)
    }

    @Test func markdownTablesAndComparisonsComeFromTheNumbers() {
        let study = ResultsDocument.Study(
            title: "MWA vs FedAvg", sources: ["runs/x"], fixed: [(key: "data.clients", value: "100")],
            groups: [Self.group("fedavg", [0.60, 0.61, 0.62]), Self.group("mwa p=1", [0.50, 0.51, 0.52]),
                     Self.group("mwa p=0", [0.59, 0.62, 0.60])],
            baseline: "fedavg", robustAttack: nil)
        let md = ResultsDocument(studies: [study], lastK: 10, command: "make experiments", build: "abc123",
                                 date: "2026-11-29", suiteSeconds: 1500).markdown()
        #expect(md.contains("## 1. MWA vs FedAvg"))
        #expect(md.contains("that invocation took 25 min"))
        #expect(md.contains("| **fedavg** (baseline) | 3/3 | 0.610 ± 0.010 |"))
        #expect(md.contains("0 setting(s) significantly above, 1 significantly below, 1 not distinguishable from seed noise"))
        #expect(md.contains("- Below: mwa p=1: −0.100"))
        #expect(md.contains("- Within noise: mwa p=0: "))
        #expect(md.contains("| `data.clients` | `100` |"))
        #expect(!md.contains("robust"))   // no robust column when no run measured it
    }

    @Test func aStudyMixingOpenBLASKernelsSaysSo() {
        #expect(ResultsDocument.mixedKernels(["Zen": 6]) == nil)
        let mixed = ResultsDocument.mixedKernels(["Zen": 4, "Cooperlake": 2]) ?? ""
        #expect(mixed.contains("Zen (4 runs), Cooperlake (2 runs)") && mixed.contains("blas_coretype"), "\(mixed)")
        var study = ResultsDocument.Study(title: "S", sources: ["runs/s"], fixed: [], groups: [Self.group("a", [0.5, 0.6])],
                                          baseline: nil, robustAttack: nil)
        study.blasCores = ["Zen": 1, "Haswell": 1]
        let md = ResultsDocument(studies: [study], lastK: 5, command: "aviary results p.toml -o r.md", build: "b", date: "d", suiteSeconds: nil).markdown()
        #expect(md.contains("**Note:** these runs were made with different OpenBLAS kernel sets"), "\(md)")
        #expect(md.contains("Generated by `aviary results p.toml -o r.md`") && md.contains("with 2 seeds a side"), "\(md)")
    }

    /// Two sweeps whose rows share grid keys (one run with `--set merge.strategy=mwa`): the
    /// detailed table names each row's sweep, so equal labels cannot be mistaken for each other.
    @Test func aStudyOfSeveralSweepsNamesEachRowsSweep() {
        var fedavg = Self.group("privacy.noise_multiplier=0", [0.5, 0.6]), mwa = Self.group("privacy.noise_multiplier=0", [0.4, 0.5])
        fedavg.source = "exp-dp"
        mwa.source = "exp-dp-mwa"
        let two = ResultsDocument.Study(title: "DP", sources: ["runs/exp-dp", "runs/exp-dp-mwa"], fixed: [], groups: [fedavg, mwa],
                                        baseline: nil, robustAttack: nil)
        let md = ResultsDocument(studies: [two], lastK: 5, command: "c", build: "b", date: "d", suiteSeconds: nil).markdown()
        #expect(md.contains("| setting | runs | seeds |"), "\(md)")
        #expect(md.contains("| privacy.noise_multiplier=0 | `exp-dp` | 2/2 |") && md.contains("| privacy.noise_multiplier=0 | `exp-dp-mwa` | 2/2 |"), "\(md)")
        let one = ResultsDocument.Study(title: "one", sources: ["runs/exp-dp"], fixed: [], groups: [fedavg], baseline: nil, robustAttack: nil)
        #expect(!ResultsDocument(studies: [one], lastK: 5, command: "c", build: "b", date: "d", suiteSeconds: nil).markdown().contains("| runs |"))
    }
}
