import AviaryLog

/// What `aviary compare` plots its metric against (`--x-axis`).
public enum ComparisonAxis: String, CaseIterable, Sendable {
    /// The round number.
    case round
    /// The simulated clock at the round's close (`[system]` runs: the round record's `system.clock_seconds`).
    case simulated

    /// Where an evaluated round sits on this axis (seconds for `simulated`); nil when the round
    /// has no simulated clock.
    public func x(_ r: RoundRecord) -> Double? {
        switch self {
        case .round: Double(r.round)
        case .simulated: r.system?.clockSeconds
        }
    }
}

/// Why a comparison cannot be drawn as asked.
public enum ComparisonError: Error, Equatable, CustomStringConvertible {
    /// `--x-axis simulated` over a run none of whose rounds carries a simulated clock.
    case noSimulatedClock(run: String)

    public var description: String {
        switch self {
        case .noSimulatedClock(let run):
            "\(run) has no simulated clock (no round records one: its topology has no [system] section, or the log predates it); "
                + "--x-axis simulated needs it on every run, or plot against rounds (--x-axis round)"
        }
    }
}

/// The unit a simulated-time axis is labelled in: minutes, or hours from 10 simulated hours on,
/// so tick labels stay short.
public struct SimulatedTimeUnit: Sendable, Equatable {
    /// Seconds per unit.
    public var seconds: Double
    /// The axis label.
    public var label: String

    /// The unit for an axis reaching `maxSeconds`.
    public init(covering maxSeconds: Double) {
        if maxSeconds >= 36_000 { seconds = 3600; label = "simulated hours" } else { seconds = 60; label = "simulated minutes" }
    }
}
