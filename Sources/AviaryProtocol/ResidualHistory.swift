/// Which stored error-feedback residual a top-k client trains with, and which stored residuals
/// it may delete: the rules that make a resumed run use exactly the residuals the uninterrupted
/// run used. Pure; the client's `ResidualStore` keeps the versions, this decides.
///
/// A client keeps one residual version per round it trained in, tagged with the server's
/// *generation* (how many times the run had been resumed when it was written). The facts the
/// rules rest on (docs/PROTOCOL.md §6):
/// - Training for round t uses the residual the client produced in its latest round before t,
///   so training a round again (a re-sent TRAIN, or a round the resumed server runs again) uses
///   the same residual as the first time.
/// - When MODEL for round m goes out, the server has saved its state after round m − 2 (it
///   writes round m − 1's state while clients train round m), so no resume goes back before
///   round m − 1: older versions than the newest at or before m − 2 are never needed again.
/// - A resume after round r (`resumes`, in the run spec) makes every version of an earlier
///   generation with a round after r *dead*: it belongs to rounds the resumed run replays, and
///   the replay writes its own.
public struct ResidualHistory: Sendable, Equatable {
    public struct Version: Sendable, Hashable, Comparable, CustomStringConvertible {
        public var round: Int
        public var generation: Int
        public init(round: Int, generation: Int) { self.round = round; self.generation = generation }
        public static func < (a: Self, b: Self) -> Bool { (a.round, a.generation) < (b.round, b.generation) }
        public var description: String { "round \(round) (generation \(generation))" }
    }

    /// `resumes[g]`: the last completed round the server resumed after, moving the run from
    /// generation g to g + 1. Empty for a run that never crashed.
    public var resumes: [Int]
    /// A residual older than this many rounds is not used (the client starts again from zero)
    /// and is deleted once no round could use it; nil keeps residuals however old.
    public var maxAge: Int?

    public init(resumes: [Int] = [], maxAge: Int? = nil) {
        self.resumes = resumes
        self.maxAge = maxAge
    }

    /// The generation versions written now belong to.
    public var generation: Int { resumes.count }

    /// True when a later resume went back before `v`'s round.
    public func isDead(_ v: Version) -> Bool {
        v.generation < resumes.count && resumes[max(v.generation, 0)...].contains { $0 < v.round }
    }

    /// The version to add to the delta of training round `round`; nil: start from zero.
    public func residual(forRound round: Int, stored: [Version]) -> Version? {
        guard let latest = stored.filter({ !isDead($0) && $0.round < round }).max() else { return nil }
        if let maxAge, round - latest.round > maxAge { return nil }
        return latest
    }

    /// What can be deleted once every round ≤ `saved` is in the server's saved state: dead
    /// versions; of the live ones at or before `saved`, all but the newest (and that one too
    /// when it is too old for round `saved` + 1). Versions after `saved` stay: a resume may
    /// run their rounds again, which needs what came before them.
    public func deletable(stored: [Version], saved: Int) -> [Version] {
        var delete = stored.filter(isDead)
        let settled = stored.filter { !isDead($0) && $0.round <= saved }.sorted()
        delete += settled.dropLast()
        if let newest = settled.last, let maxAge, saved + 1 - newest.round > maxAge { delete.append(newest) }
        return delete.sorted()
    }

    /// The last round certainly in the server's saved state once MODEL for `modelRound` arrived.
    public static func savedRound(whenModelArrives modelRound: Int) -> Int { modelRound - 2 }
}
