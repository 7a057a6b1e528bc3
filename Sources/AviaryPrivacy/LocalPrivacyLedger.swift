/// Local DP's per-client accounting: how many noised reports each client has released so far.
///
/// Under local DP every report is its own Gaussian mechanism (sensitivity 2S, multiplier z/2) on
/// the client's data, and nothing is amplified by sampling: a client's ε depends only on how many
/// reports it released, k, and is the q = 1 accountant's ε after k rounds. So the ledger keeps
/// one count per client, and ε(k) is the run's local `PrivacyAccount` at k rounds.
///
/// A round counts for a client when it sent, or may have sent, a report: it answered with an
/// UPDATE (accepted or rejected), or it was asked to train and its answer never came (timed out,
/// or its process was lost): a late or lost report may still have been released. A client that
/// answered with FAILURE sent no delta, and one never asked to train (not sampled, or a straggler
/// the simulated clock told not to train) released nothing.
public struct LocalPrivacyLedger: Sendable, Equatable {
    /// client → reports released so far (clients with none are absent).
    public private(set) var reports: [Int: Int]

    public init(reports: [Int: Int] = [:]) { self.reports = reports }

    /// Counts one report for each of `clients` (a client listed twice counts once: one report a round).
    public mutating func add<S: Sequence<Int>>(round clients: S) {
        for c in Set(clients) { reports[c, default: 0] += 1 }
    }

    /// The most reports any client released: the client whose ε is the run's largest.
    public var mostReports: Int { reports.values.max() ?? 0 }

    /// How many clients released k reports, by ascending k (clients with none left out).
    public var histogram: [(reports: Int, clients: Int)] {
        var byCount: [Int: Int] = [:]
        for k in reports.values { byCount[k, default: 0] += 1 }
        return byCount.keys.sorted().map { ($0, byCount[$0]!) }
    }

    /// The run state's form: (client, reports) pairs in client order, flattened.
    public var flattened: [Int] { reports.keys.sorted().flatMap { [$0, reports[$0]!] } }

    /// Reads `flattened` back; nil when it is not a list of pairs of a client ≥ 0 and a count ≥ 1.
    public init?(flattened: [Int]) {
        guard flattened.count % 2 == 0 else { return nil }
        var reports: [Int: Int] = [:]
        for i in stride(from: 0, to: flattened.count, by: 2) {
            let (c, k) = (flattened[i], flattened[i + 1])
            guard c >= 0, k >= 1, reports[c] == nil else { return nil }
            reports[c] = k
        }
        self.reports = reports
    }
}
