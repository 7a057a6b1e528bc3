import AviaryMath
import AviaryLog

/// Which clients left the federation during a run and whether they came back, for the run's
/// verdict. Sampling draws only from registered clients, so a run that lost half its clients
/// keeps going at half size; without this the run would end "completed" and say nothing.
/// Pure bookkeeping: the server feeds it the state machine's `peerLost` and `registered` actions.
struct PopulationWatch: Sendable, Equatable {
    /// The most clients registered at once in this process's part of the run.
    private(set) var peak = 0
    /// Clients whose process was lost and that have not registered again.
    private(set) var gone: Set<Int> = []
    /// Clients lost at some point that registered again later.
    private(set) var returned: Set<Int> = []

    init(registered: Int = 0) { peak = registered }

    mutating func registered(_ clients: [Int], registeredCount: Int) {
        peak = max(peak, registeredCount)
        for c in clients where gone.remove(c) != nil { returned.insert(c) }
    }

    mutating func lost(_ clients: [Int]) {
        gone.formUnion(clients)
        returned.subtract(clients)
    }

    /// Why the run is degraded (clients lost and not back exceed `maxLostShare` of the peak
    /// registered population), or nil.
    func degradedReason(maxLostShare: Double) -> String? {
        guard peak > 0, !gone.isEmpty, Double(gone.count) > maxLostShare * Double(peak) else { return nil }
        return "\(gone.count) of \(peak) registered clients were lost and did not come back (clients \(CompactIndices(gone.sorted())); "
            + "[server] max_lost_share = \(maxLostShare))"
    }

    /// One line for the end-of-run summary, or nil when no client was lost.
    var summary: String? {
        guard !gone.isEmpty || !returned.isEmpty else { return nil }
        var parts: [String] = []
        if !gone.isEmpty { parts.append("clients \(CompactIndices(gone.sorted())) lost and not back (\(gone.count) of \(peak))") }
        if !returned.isEmpty { parts.append("clients \(CompactIndices(returned.sorted())) lost and came back") }
        return parts.joined(separator: "; ")
    }
}
