import AviaryLog
import AviaryMerge
import AviaryProtocol
import AviaryTopology
import AviaryTransport

/// What one round of a buffered run does, from the plan: the clients it trains (started on
/// version round − 1) and the server update it applies.
struct BufferedRoundPlan: Sendable {
    var batch: [InFlightClient]
    /// Nil when the schedule stalled before this update (nobody online, nobody in flight).
    var update: BufferedPlan.Update?
    var staleness: StalenessDiscount
    /// `[server] clock = "wall"`: the update is the buffer as received (times are wall seconds).
    var wall = false
    /// The arrivals some update of the plan takes (`BufferedPlan.consumed`); an update outside
    /// it is not held. nil: hold every one (the wall clock's buffer is not known ahead).
    var consumed: Set<BufferedPlan.Arrival>? = nil
}

extension SystemRound {
    /// Buffered mode's half of `apply` (pure): every update of the round's batch that some update of
    /// the plan takes (`consumed`) is held with its start version and arrival time; the plan's over-stale arrivals are dropped from the
    /// held ones; the plan's buffer leaves them, each delta scaled by its staleness discount, and
    /// becomes the round's merge (client-index order, as every merge). The strategy's weights
    /// over the buffer times the discounts are the final weights (`BufferedWeights`), filled
    /// into the record after the merge by `withBufferedWeights`. With `discounts` non-nil the
    /// deltas are left as they are and the discounts ≠ 1 go there instead (`apply(to:buffer:discounts:)`).
    func applyBuffered(_ plan: BufferedRoundPlan, to outcome: inout RoundOutcome, held: inout [StaleUpdate],
                       discounts: inout [Int: Float]?) -> SystemRoundRecord {
        let arrival = Dictionary(plan.batch.map { ($0.client, $0.completion) }, uniquingKeysWith: { a, _ in a })
        // On the simulated clock the batch trained on version round − 1; on the wall clock the
        // batch is the buffer, each arrival with the version it trained on.
        let trainedOn = Dictionary(plan.batch.map { ($0.client, $0.startVersion) }, uniquingKeysWith: { a, _ in a })
        for u in outcome.updates {
            let from = trainedOn[u.clientIndex] ?? round - 1
            if let consumed = plan.consumed, !consumed.contains(BufferedPlan.Arrival(client: u.clientIndex, startVersion: from)) { continue }
            held.append(StaleUpdate(fromRound: from, arrival: arrival[u.clientIndex] ?? close, update: u))
        }
        outcome.updates = []
        func take(_ e: InFlightClient) -> ClientUpdate? {
            guard let i = held.firstIndex(where: { $0.update.clientIndex == e.client && $0.fromRound == e.startVersion }) else { return nil }
            return held.remove(at: i).update
        }
        var record = SystemRoundRecord(roundSeconds: timing.duration, clockSeconds: close, offline: [], stragglers: [])
        guard let update = plan.update else { return record }
        var discarded: [BufferedUpdateEntry] = []
        for (e, s) in update.discarded {
            _ = take(e)
            discarded.append(BufferedUpdateEntry(client: e.client, startVersion: e.startVersion, arrival: e.completion,
                                                 staleness: s, discount: plan.staleness.factor(staleness: s)))
        }
        var entries: [BufferedUpdateEntry] = []
        for (e, s) in update.buffer {
            let discount = plan.staleness.factor(staleness: s)
            var entry = BufferedUpdateEntry(client: e.client, startVersion: e.startVersion, arrival: e.completion, staleness: s, discount: discount)
            if var u = take(e) {
                if discount != 1, discounts != nil {
                    discounts![u.clientIndex] = Float(discount)
                } else if discount != 1 {
                    u.delta = scaledCopy(u.delta, by: Float(discount))
                }
                outcome.updates.append(u)
            } else {
                entry.missing = "no update: its process failed, was lost, or it was not answered in round \(e.startVersion + 1)"
            }
            entries.append(entry)
        }
        outcome.updates.sort { $0.clientIndex < $1.clientIndex }
        record.buffered = BufferedUpdateRecord(version: update.version, clockSeconds: update.time,
                                               updates: entries.sorted { $0.client < $1.client },
                                               discarded: discarded.isEmpty ? nil : discarded.sorted { $0.client < $1.client })
        if plan.wall { record.buffered!.clock = "wall" }
        return record
    }
}

extension SystemRoundRecord {
    /// The record with each buffered update's final weight: the merge's weight for it (its
    /// strategy weight over the buffer) × its discount.
    func withBufferedWeights(_ weights: [Int: Double]) -> SystemRoundRecord {
        guard var b = buffered else { return self }
        let discounts = Dictionary(b.updates.map { ($0.client, $0.discount) }, uniquingKeysWith: { a, _ in a })
        let final = BufferedWeights.apply(base: weights.filter { discounts[$0.key] != nil }, discounts: discounts)
        for i in b.updates.indices { b.updates[i].weight = final[b.updates[i].client] }
        var r = self
        r.buffered = b
        return r
    }
}

extension FederatedServer {
    /// Buffered mode's round entry: only the clients the plan started on version round − 1 are
    /// candidates, and the state machine samples all of them (its clients_per_round is the
    /// population in buffered mode).
    func enterBufferedRound(_ round: Int, plan: BufferedPlan, machine: inout ServerStateMachine<PeerID>) {
        let batch = round - 1 < plan.batches.count ? Set(plan.batches[round - 1].map(\.client)) : []
        systemRoundEntered = ([], [])
        machine.restrictedTo = batch
    }

    /// Buffered mode's round close: the clock moves to the server update's simulated time.
    func closeBufferedRound(_ outcome: RoundOutcome, plan: BufferedPlan, clock: SimulatedClock) -> SystemRound {
        let r = outcome.round
        let update = r - 1 < plan.updates.count ? plan.updates[r - 1] : nil
        let duration = max(0, (update?.time ?? clock.now) - clock.now)
        var round = SystemRound(round: r, start: clock.now,
                                timing: RoundTiming(finish: [:], onTime: [], stragglers: [], duration: duration),
                                offline: [], busy: [], policy: .drop, stalenessExponent: 0)
        round.buffered = BufferedRoundPlan(batch: r - 1 < plan.batches.count ? plan.batches[r - 1] : [], update: update,
                                           staleness: topology.server.buffered!.staleness, consumed: plan.consumed)
        simulatedClock!.advance(by: duration)
        return round
    }

    /// Wall-clock buffered mode's round close: the server update the state machine made from
    /// the buffer as received, as a plan of one update (times in wall seconds since the run
    /// started, counting the time before a resume), so the merge and the log are the simulated
    /// mode's.
    func closeWallRound(_ outcome: RoundOutcome) -> SystemRound? {
        guard let wall = outcome.wall, let settings = topology.server.buffered else { return nil }
        func seconds(_ t: Double) -> Double { elapsedBeforeResume + t - startTime }
        let entries = wall.buffer.map { InFlightClient(client: $0.client, startVersion: $0.startVersion, start: 0, completion: seconds($0.received)) }
        let update = BufferedPlan.Update(
            version: outcome.round, time: seconds(wall.closed),
            buffer: zip(entries, wall.buffer).map { ($0, $1.staleness) },
            discarded: wall.discarded.map { (InFlightClient(client: $0.client, startVersion: $0.startVersion, start: 0, completion: seconds($0.received)), $0.staleness) })
        let start = lastWallClose ?? 0
        lastWallClose = update.time
        var round = SystemRound(round: outcome.round, start: start,
                                timing: RoundTiming(finish: [:], onTime: [], stragglers: [], duration: max(0, update.time - start)),
                                offline: [], busy: [], policy: .drop, stalenessExponent: 0)
        round.buffered = BufferedRoundPlan(batch: entries, update: update, staleness: settings.staleness, wall: true)
        return round
    }

    /// The state machine's wall-clock schedule, nil unless `[server] clock = "wall"`.
    var wallSchedule: WallSchedule? {
        guard let b = topology.server.buffered, b.clock == .wall else { return nil }
        return WallSchedule(concurrency: b.concurrency, bufferSize: b.bufferSize, maxStaleness: b.maxStaleness)
    }

    /// `run_start`'s note for wall-clock buffered mode.
    func wallNote() -> [String] {
        guard let b = topology.server.buffered, b.clock == .wall else { return [] }
        return ["buffered mode on the wall clock (not reproducible: arrivals are applied in the order received): concurrency \(b.concurrency), buffer_size \(b.bufferSize), staleness \(b.staleness.name), max_staleness "
            + (b.maxStaleness.map(String.init) ?? "none") + "; times in the log are wall seconds since the run started"]
    }

    /// `run_start`'s note saying buffered mode ran, and how.
    func bufferedNote(_ plan: BufferedPlan) -> String {
        let b = topology.server.buffered!
        let staleness: String
        switch b.staleness {
        case .constant: staleness = "constant"
        case let .polynomial(a): staleness = "polynomial (a = \(a))"
        case let .hinge(a, b): staleness = "hinge (a = \(a), b = \(b))"
        }
        return "buffered mode on the simulated clock: concurrency \(b.concurrency), buffer_size \(b.bufferSize), staleness \(staleness), max_staleness "
            + (b.maxStaleness.map(String.init) ?? "none") + "; \(plan.updates.count) of \(topology.rounds) server updates planned"
    }
}
