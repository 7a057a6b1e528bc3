import Foundation
import AviaryData
import AviaryLog
import AviaryMerge
import AviaryProtocol
import AviaryTopology
import AviaryTransport

/// The server's side of `[system]`: building the simulated clock, entering and closing rounds
/// on it, and carrying it through the run state.
extension FederatedServer {
    /// The simulated clock for `topology`, or nil without `[system]`. A trace is read here, once.
    static func makeSimulatedClock(topology: Topology, data: FederatedDataset, parameterCount: Int,
                                   tensorSizes: [Int]) throws -> SimulatedClock? {
        guard let settings = topology.system else { return nil }
        let clients = topology.data.clients
        var profiles = try settings.trace.map { SystemProfiles(trace: try SystemTrace.load(path: $0, clients: clients)) }
            ?? SystemProfiles(devices: settings.devices, seed: settings.seed)
        if let path = settings.deviceCapacity {
            profiles = SystemProfiles(capacities: try FedScaleTraces.capacities(path: path), over: profiles, clients: clients)
        }
        let behaviour = try settings.behaviourTrace.map { path throws(SystemTraceError) in
            let traces = try FedScaleTraces.behaviours(path: path)
            return (0..<clients).map { traces[$0 % traces.count] }
        }
        let t = topology.training
        var work: [Double] = []
        work.reserveCapacity(clients)
        for i in 0..<clients {
            let n = try data.clientSizes(i).train
            let samples = TrainingWork.samplesProcessed(samples: n, epochs: t.localEpochs, batchSize: t.batchSize, maxSteps: t.maxLocalSteps)
            work.append(Double(samples) * TrainingWork.passes(topology.adversarial(forClient: i)))
        }
        var clock = SimulatedClock(settings: settings, profiles: profiles, work: work, parameterCount: parameterCount,
                                   encoding: topology.compression, tensorSizes: tensorSizes, behaviour: behaviour)
        if topology.secAgg.enabled { clock.extraRoundTrips = 3 }
        return clock
    }

    /// `run_start`'s note describing the simulated population, e.g. "simulated clock: deadline 20 s,
    /// stragglers drop; devices phone 52, tablet 18, laptop 30; median speed 96 samples/s".
    func systemNote() -> [String] {
        guard let clock = simulatedClock else { return [] }
        let s = clock.settings
        var parts: [String] = []
        if let d = s.deadline { parts.append("deadline \(d) s") }
        if let k = s.kFastest { parts.append("k_fastest \(k)") }
        if parts.isEmpty { parts.append("no deadline") }
        parts.append("stragglers \(s.stragglerPolicy.rawValue)" + (s.stragglerPolicy == .stale ? " (exponent \(s.stalenessExponent))" : ""))
        var population: [String] = []
        let profiles = (0..<clock.clients).map { clock.profiles.profile($0) }
        if let trace = s.trace {
            population.append("profiles from \(trace)")
        } else if let capacity = s.deviceCapacity {
            population.append("speed and bandwidth from FedScale device capacity \(capacity)")
        } else {
            var counts = [Int](repeating: 0, count: s.devices.count)
            for p in profiles { counts[p.deviceClass] += 1 }
            population.append("devices " + zip(s.devices, counts).map { "\($0.name) \($1)" }.joined(separator: ", "))
        }
        let speeds = profiles.map(\.speed).sorted()
        if !speeds.isEmpty { population.append(String(format: "median speed %.4g samples/s", speeds[speeds.count / 2])) }
        let online = profiles.reduce(0) { $0 + $1.availability } / Double(max(1, profiles.count))
        if let behaviour = s.behaviourTrace {
            population.append("availability from FedScale behaviour trace \(behaviour)")
        } else {
            population.append(String(format: "mean availability %.3f", online) + (s.onlinePeriod.map { ", online periods of \($0) rounds" } ?? ""))
        }
        if let bufferedPlan { return [bufferedNote(bufferedPlan), "simulated clock: " + population.joined(separator: "; ")] }
        return ["simulated clock: " + parts.joined(separator: ", ") + "; " + population.joined(separator: "; ")]
    }

    /// The state machine's configuration with the clock's straggler prediction plugged in.
    func withSystem(_ configuration: ServerStateMachine<PeerID>.Configuration) -> ServerStateMachine<PeerID>.Configuration {
        var c = configuration
        if topology.server.buffered != nil { c.clientsPerRound = topology.data.clients }
        guard let clock = simulatedClock, clock.settings.stragglerPolicy == .drop, topology.server.buffered == nil else { return c }
        c.notAsked = { sampled in clock.notAsked(sampled: sampled) }
        return c
    }

    /// Enters `round` on the simulated clock and tells the state machine whom not to sample:
    /// offline clients and those still training for an earlier round (held-back updates).
    func enterSystemRound(_ round: Int, machine: inout ServerStateMachine<PeerID>) {
        guard simulatedClock != nil, round <= topology.rounds else { return }
        if let bufferedPlan { return enterBufferedRound(round, plan: bufferedPlan, machine: &machine) }
        let offline = simulatedClock!.enter(round: round)
        let busy = state.stale.map(\.update.clientIndex).sorted()
        systemRoundEntered = (offline, busy)
        machine.excluded = Set(offline).union(busy)
    }

    /// Closes the round in `outcome` on the simulated clock: its timing from the sampled clients'
    /// profiles, and the clock advanced by its duration.
    func closeSystemRound(_ outcome: RoundOutcome) -> SystemRound? {
        if outcome.wall != nil { return closeWallRound(outcome) }
        guard let clock = simulatedClock else { return nil }
        if let bufferedPlan { return closeBufferedRound(outcome, plan: bufferedPlan, clock: clock) }
        let timing = clock.timing(sampled: outcome.sampled)
        let round = SystemRound(round: outcome.round, start: clock.now, timing: timing, offline: systemRoundEntered.offline,
                                busy: systemRoundEntered.busy, policy: clock.settings.stragglerPolicy,
                                stalenessExponent: clock.settings.stalenessExponent)
        simulatedClock!.advance(by: timing.duration)
        return round
    }

    /// The clock and held-back updates as run-state entries (extension bags, no format change).
    static func systemState(clock: SimulatedClock?, stale: [StaleUpdate],
                            into integers: inout [String: [Int]], numbers: inout [String: Double], vectors: inout [String: [Float]]) {
        guard let clock else { return }
        numbers[RunStateKey.simulatedClock] = clock.now
        integers[RunStateKey.simulatedRound] = [clock.round]
        // Only on/off periods carry availability from round to round; independent draws need nothing.
        if clock.settings.onlinePeriod != nil { integers[RunStateKey.simulatedOffline] = clock.offline }
        var held: [Int] = []
        for s in stale {
            let c = s.update.clientIndex
            held += [c, s.fromRound, s.update.samples]
            numbers[RunStateKey.staleArrival(client: c)] = s.arrival
            for (k, v) in s.update.metrics { numbers[RunStateKey.staleMetricPrefix(client: c) + k] = v }
            vectors[RunStateKey.staleDelta(client: c)] = s.update.delta
        }
        if !held.isEmpty { integers[RunStateKey.staleUpdates] = held }
    }

    /// Restores what `systemState` saved.
    func restoreSystemState(from saved: RunState) throws {
        guard simulatedClock != nil else { return }
        simulatedClock!.restore(now: saved.numbers[RunStateKey.simulatedClock] ?? 0,
                                round: saved.integers[RunStateKey.simulatedRound]?.first ?? 0,
                                offline: saved.integers[RunStateKey.simulatedOffline] ?? [])
        let held = saved.integers[RunStateKey.staleUpdates] ?? []
        guard held.count % 3 == 0 else {
            throw RunStateError.inconsistent(path: directory.state, field: "integers.stale", reason: "has \(held.count) values, not triples")
        }
        var stale: [StaleUpdate] = []
        for i in stride(from: 0, to: held.count, by: 3) {
            let c = held[i]
            guard let delta = saved.vectors[RunStateKey.staleDelta(client: c)], delta.count == state.global.count,
                  let arrival = saved.numbers[RunStateKey.staleArrival(client: c)] else {
                throw RunStateError.inconsistent(path: directory.state, field: "vectors.stale.\(c)", reason: "missing, or not the model's length")
            }
            let prefix = RunStateKey.staleMetricPrefix(client: c)
            var metrics: [String: Double] = [:]
            for (k, v) in saved.numbers where k.hasPrefix(prefix) { metrics[String(k.dropFirst(prefix.count))] = v }
            stale.append(StaleUpdate(fromRound: held[i + 1], arrival: arrival,
                                     update: ClientUpdate(clientIndex: c, samples: held[i + 2], metrics: metrics, delta: delta)))
        }
        state.stale = stale
    }
}
