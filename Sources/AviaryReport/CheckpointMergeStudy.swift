import Foundation

/// The MWA paper's own comparison (Yu & Choi: loss-weighted merging of checkpoints beats the
/// uniform merge of the same checkpoints), made on federated runs: for each run, the last
/// `window` round checkpoints merged by metric × penalty, scored clean and under an attack,
/// against the uniform merge (p = 0) of the same window and the last checkpoint alone. Each
/// comparison is a paired t-test over the runs of a row (seeds), Holm-adjusted across every
/// weighted setting of the study. Pure: the numbers come from `aviary results`.
public struct CheckpointMergeStudy: Sendable {
    public struct Setting: Hashable, Sendable {
        public var window: Int
        /// A loss-type (`val_loss`, `train_loss`, `adv_loss`) or progress-type (`steps`) metric.
        public var metric: String
        public var penalty: Double
        public init(window: Int, metric: String, penalty: Double) { self.window = window; self.metric = metric; self.penalty = penalty }
        /// The study key of a setting, e.g. `w10 val_loss p=1`; every metric's p = 0 is `w10 uniform`.
        public var key: String { penalty == 0 ? "w\(window) uniform" : "w\(window) \(metric) p=\(Self.number(penalty))" }
        static func number(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(v) }
    }

    public struct Scores: Sendable, Equatable, Codable {
        public var clean: Double
        public var robust: Double?
        public init(clean: Double, robust: Double?) { self.clean = clean; self.robust = robust }
    }

    /// Runs that differ only by seed: their last checkpoints and merges, in the same run order.
    public struct Group: Sendable {
        public var label: String
        public var last: [Scores]
        /// Keyed by `Setting.key`; `w<W> uniform` holds each window's uniform merge.
        public var merges: [String: [Scores]]
        public init(label: String, last: [Scores], merges: [String: [Scores]]) { self.label = label; self.last = last; self.merges = merges }
    }

    public var groups: [Group]
    public var windows: [Int]
    public var metrics: [String]
    /// The weighted penalties (p > 0); p = 0 is the uniform merge, always computed.
    public var penalties: [Double]
    /// The attack of the robust column, e.g. `apgd-ce linf ε 0.1, 100 steps`; nil: clean only.
    public var attack: String?
    public static let lossMetrics: Set<String> = ["val_loss", "train_loss", "adv_loss", "clean_loss"]

    public init(groups: [Group], windows: [Int], metrics: [String], penalties: [Double], attack: String?) {
        self.groups = groups; self.windows = windows; self.metrics = metrics
        self.penalties = penalties.filter { $0 > 0 }; self.attack = attack
    }

    /// One weighted setting of one group tested against its window's uniform merge.
    struct Comparison {
        var group: String
        var setting: Setting
        var clean: PairedTTest?
        var robust: PairedTTest?
        var cleanHolm: Double? = nil
        var robustHolm: Double? = nil
    }

    func comparisons() -> [Comparison] {
        var out: [Comparison] = []
        for g in groups {
            for w in windows {
                guard let uniform = g.merges[Setting(window: w, metric: "", penalty: 0).key] else { continue }
                for m in metrics {
                    for p in penalties {
                        let s = Setting(window: w, metric: m, penalty: p)
                        guard let scores = g.merges[s.key], scores.count == uniform.count else { continue }
                        out.append(Comparison(group: g.label, setting: s, clean: PairedTTest(scores.map(\.clean), uniform.map(\.clean)),
                                              robust: Self.robustTest(scores, uniform)))
                    }
                }
            }
        }
        let cleanIndex = out.indices.filter { out[$0].clean != nil }
        for (i, adjusted) in zip(cleanIndex, HolmBonferroni.adjust(cleanIndex.map { out[$0].clean!.p })) { out[i].cleanHolm = adjusted }
        let robustIndex = out.indices.filter { out[$0].robust != nil }
        for (i, adjusted) in zip(robustIndex, HolmBonferroni.adjust(robustIndex.map { out[$0].robust!.p })) { out[i].robustHolm = adjusted }
        return out
    }

    static func robustTest(_ a: [Scores], _ b: [Scores]) -> PairedTTest? {
        let x = a.compactMap(\.robust), y = b.compactMap(\.robust)
        guard x.count == a.count, y.count == b.count else { return nil }
        return PairedTTest(x, y)
    }

    public func markdown() -> String {
        let all = comparisons()
        var md = "**Checkpoint merging: weighted against uniform.** For each run, the last W round checkpoints "
        md += "(W = " + windows.map(String.init).joined(separator: ", ") + ") merged with weights m^(−p) for a loss-type metric "
        md += "and m^p for `steps` (metrics: " + metrics.map { "`\($0)`" }.joined(separator: ", ") + "; p = "
        md += penalties.map(Setting.number).joined(separator: ", ") + "), against the uniform merge (p = 0) of the same checkpoints "
        md += "and the last checkpoint alone; clean accuracy on the test set" + (attack.map { ", robust accuracy under \($0)" } ?? "") + ". "
        md += "Δ is the mean over runs of (setting − uniform); p from a paired t-test over the runs (seeds) of the row, "
        md += "Holm p adjusted across all \(all.count) weighted settings of this study.\n"
        md += verdict(all)
        for g in groups {
            md += "\n| \(g.label): merge | runs | clean | Δ clean vs uniform (p, Holm p) |"
            if attack != nil { md += " robust | Δ robust vs uniform (p, Holm p) |" }
            md += "\n|---|---:|---:|---:|" + (attack != nil ? "---:|---:|" : "") + "\n"
            md += row("last checkpoint", g.last, nil)
            for w in windows {
                let uniformKey = Setting(window: w, metric: "", penalty: 0).key
                if let u = g.merges[uniformKey] {
                    let vsLast = PairedTTest(u.map(\.clean), g.last.map(\.clean))
                    md += row("\(uniformKey) (vs last: \(vsLast.map { "\(Self.signed($0.difference)), p = \(Self.pText($0.p))" } ?? "-"))", u, nil)
                }
                for c in all where c.group == g.label && c.setting.window == w {
                    md += row(c.setting.key, g.merges[c.setting.key] ?? [], c)
                }
            }
        }
        return md
    }

    func row(_ name: String, _ scores: [Scores], _ c: Comparison?) -> String {
        func cell(_ v: [Double]) -> String { MeanStd(v)?.text() ?? "-" }
        func test(_ t: PairedTTest?, _ holm: Double?) -> String {
            guard let t, let holm else { return c == nil ? "" : "-" }
            let mark = holm < 0.05 ? "**" : ""
            return "\(mark)\(Self.signed(t.difference))\(mark) (\(Self.pText(t.p)), \(Self.pText(holm)))"
        }
        var md = "| \(name) | \(scores.count) | \(cell(scores.map(\.clean))) | \(test(c?.clean, c?.cleanHolm)) |"
        if attack != nil { md += " \(cell(scores.compactMap(\.robust))) | \(test(c?.robust, c?.robustHolm)) |" }
        return md + "\n"
    }

    /// Whether the paper's claim holds here, from the numbers: some loss-weighted setting
    /// significantly above the uniform merge after Holm, and by how much at best.
    func verdict(_ all: [Comparison]) -> String {
        let loss = all.filter { Self.lossMetrics.contains($0.setting.metric) }
        let tested = loss.filter { $0.clean != nil }
        guard !tested.isEmpty else { return "\nNo loss-weighted setting could be tested against the uniform merge (too few runs per row).\n" }
        let above = tested.filter { $0.cleanHolm! < 0.05 && $0.clean!.difference > 0 }
        let below = tested.filter { $0.cleanHolm! < 0.05 && $0.clean!.difference < 0 }
        let best = tested.max { $0.clean!.difference < $1.clean!.difference }!
        var md = "\nThe paper's claim (loss-weighted beats uniform, by up to 5 %) "
        md += above.isEmpty ? "is **not shown** here" : "**holds** here in \(above.count) setting(s)"
        md += ": of \(tested.count) loss-weighted settings, \(above.count) are significantly above the uniform merge in clean accuracy and "
        md += "\(below.count) significantly below (Holm, 5 %); \(tested.filter { $0.clean!.p < 0.05 && $0.clean!.difference > 0 }.count) are above at an unadjusted p < 0.05. "
        md += "The largest mean gain is \(Self.signed(best.clean!.difference)) (\(best.group), \(best.setting.key), p = \(Self.pText(best.clean!.p))).\n"
        return md
    }

    static func signed(_ v: Double) -> String { ResultsDocument.signed(v) }
    static func pText(_ p: Double) -> String { ResultsDocument.pText(p) }
}
