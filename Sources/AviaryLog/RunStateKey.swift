/// The names of the run state's extension-bag entries (state.json's `integers`, `numbers`,
/// `strings` and extra vectors) that the server writes and reads back on resume. They are
/// part of the state format, so this module owns them; docs/LOG.md lists them.
public enum RunStateKey {
    /// integers: rounds so far that merged at least one update.
    public static let roundsMerged = "rounds_merged"
    /// integers: the rounds this run resumed after, oldest first.
    public static let resumes = "resumes"
    /// strings: the run's id (the same after every resume).
    public static let runID = "run_id"
    /// numbers: the simulated clock's time, in seconds.
    public static let simulatedClock = "sim_clock"
    /// integers: the simulated clock's round.
    public static let simulatedRound = "sim_round"
    /// integers: clients offline on the simulated clock (on/off availability periods only).
    public static let simulatedOffline = "sim_offline"
    /// integers: held-back stale updates as (client, round it was trained in, samples) triples.
    public static let staleUpdates = "stale"
    /// numbers: when client `c`'s held-back update arrives on the simulated clock.
    public static func staleArrival(client c: Int) -> String { "stale.\(c).arrival" }
    /// numbers: the prefix of client `c`'s held-back update's metrics (the metric name follows).
    public static func staleMetricPrefix(client c: Int) -> String { "stale.\(c).metric." }
    /// numbers: adaptive clipping's clip norm for the next round (`[privacy] clipping = "adaptive"`).
    public static let privacyClipNorm = "privacy_clip_norm"
    /// integers: the index of the last noise stream the server drew from (`GaussianNoise.serverStream`):
    /// streams are indexed by round, so the resumed run draws the same noise for the same round.
    public static let privacyNoiseStream = "privacy_noise_stream"
    /// integers: local DP's per-client report counts (`LocalPrivacyLedger.flattened`: client,
    /// reports, … in client order), so a resumed run's per-client ε continues from them.
    public static let privacyReports = "privacy_reports"
    /// vectors: client `c`'s held-back delta.
    public static func staleDelta(client c: Int) -> String { "stale.\(c)" }
}
