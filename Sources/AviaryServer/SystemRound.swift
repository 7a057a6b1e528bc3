import Foundation
import AviaryLog
import AviaryMerge
import AviaryProtocol
import AviaryTopology

/// A straggler's update held back under the "stale" policy until the round it would arrive in.
struct StaleUpdate: Sendable, Equatable {
    var fromRound: Int
    /// Simulated time its upload arrives at the server.
    var arrival: Double
    var update: ClientUpdate
}

/// One closed round on the simulated clock, handed to the round processor with its outcome.
struct SystemRound: Sendable {
    var round: Int
    /// The clock at the round's start.
    var start: Double
    var timing: RoundTiming
    var offline: [Int]
    /// Clients with a held-back update, left out of sampling this round.
    var busy: [Int]
    var policy: SystemSettings.StragglerPolicy
    var stalenessExponent: Double
    /// Buffered mode: the round's batch and server update (`BufferedRound.swift`); nil in sync mode.
    var buffered: BufferedRoundPlan? = nil

    var close: Double { start + timing.duration }

    /// Applies the straggler policy to `outcome` (pure): stragglers' updates leave the merge;
    /// under "stale" they join `buffer`, and buffered updates of earlier rounds that arrive by
    /// this round's close rejoin it, each delta scaled by (1 + s)^(−exponent), s = rounds late.
    /// Returns the round's `system` log record.
    func apply(to outcome: inout RoundOutcome, buffer: inout [StaleUpdate]) -> SystemRoundRecord {
        var deferred: [Int: Float]? = nil
        return apply(to: &outcome, buffer: &buffer, discounts: &deferred)
    }

    /// `apply`, except that with `discounts` non-nil buffered mode's staleness discounts are
    /// not applied to the deltas but returned there (client → factor, discounts ≠ 1 only), for
    /// `aggregate(discounts:)` to apply inside the merge kernels with the same bits, without
    /// scaled copies.
    func apply(to outcome: inout RoundOutcome, buffer: inout [StaleUpdate], discounts: inout [Int: Float]?) -> SystemRoundRecord {
        if let buffered { return applyBuffered(buffered, to: &outcome, held: &buffer, discounts: &discounts) }
        let late = Set(timing.stragglers)
        var merged: [StaleMergedUpdate] = []
        if !late.isEmpty {
            let held = outcome.updates.filter { late.contains($0.clientIndex) }
            outcome.updates.removeAll { late.contains($0.clientIndex) }
            if policy == .stale {
                for u in held {
                    buffer.append(StaleUpdate(fromRound: round, arrival: start + (timing.finish[u.clientIndex] ?? timing.duration), update: u))
                }
            }
        }
        if policy == .stale {
            let due = buffer.filter { $0.fromRound < round && $0.arrival <= close }
            buffer.removeAll { $0.fromRound < round && $0.arrival <= close }
            buffer.sort { ($0.arrival, $0.update.clientIndex) < ($1.arrival, $1.update.clientIndex) }
            for s in due {
                // The delta is discounted and the strategy's weights are not renormalised: the
                // discounted share stays with the current model, as in FedAsync and FedBuff
                // (docs/TOPOLOGY.md, `stale`), rather than going to the round's fresh updates.
                let scale = pow(1 + Double(round - s.fromRound), -stalenessExponent)
                var u = s.update
                let f = Float(scale)
                u.delta = u.delta.map { $0 * f }
                outcome.updates.append(u)
                merged.append(StaleMergedUpdate(client: u.clientIndex, fromRound: s.fromRound, scale: scale))
            }
            // The merge order is client-index order, whatever arrived late.
            outcome.updates.sort { $0.clientIndex < $1.clientIndex }
            merged.sort { $0.client < $1.client }
        }
        return SystemRoundRecord(roundSeconds: timing.duration, clockSeconds: close, offline: offline,
                                 stragglers: timing.stragglers, staleMerged: merged.isEmpty ? nil : merged,
                                 busy: busy.isEmpty ? nil : busy)
    }
}
