import Foundation
import Testing
import AviaryLog
import AviaryMerge
import AviaryProtocol
import AviaryTransport
@testable import AviaryServer
@testable import AviaryTopology

/// The simulated clock without a server: profile sampling, trace parsing, straggler selection,
/// training cost, availability and the "stale" policy, on hand-computed numbers.
@Suite struct SimulatedClockTests {
    static func topology(_ system: String, extra: String = "", clientsPerRound: Int = 10) throws -> Topology {
        try Topology.parse("""
        [run]
        name = "sim"
        [data]
        clients = 10
        [server]
        clients_per_round = \(clientsPerRound)
        \(extra)
        [system]
        \(system)
        """)
    }

    static func clock(_ settings: SystemSettings, clients: Int, work: Double = 100, parameters: Int = 1000) -> SimulatedClock {
        SimulatedClock(settings: settings, profiles: SystemProfiles(devices: settings.devices, seed: settings.seed),
                       work: Array(repeating: work, count: clients), parameterCount: parameters)
    }

    // MARK: Profiles

    @Test func lognormalSpeedsHaveTheirMedianAndSpreadAndAreAPureFunctionOfSeedAndIndex() throws {
        let t = try Self.topology("speed = { distribution = \"lognormal\", median = 200, sigma = 0.5 }")
        let system = try #require(t.system)
        let profiles = SystemProfiles(devices: system.devices, seed: system.seed)
        let n = 20_000
        let logs = (0..<n).map { log(profiles.profile($0).speed) }
        let mean = logs.reduce(0, +) / Double(n)
        let std = (logs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)).squareRoot()
        #expect(abs(mean - log(200)) < 0.02, "mean log speed \(mean)")
        #expect(abs(std - 0.5) < 0.02, "std of log speed \(std)")
        // Determinism: another instance, any order of queries, gives the same profile.
        let again = SystemProfiles(devices: system.devices, seed: system.seed)
        #expect(again.profile(12_345) == profiles.profile(12_345))
        let other = SystemProfiles(devices: system.devices, seed: system.seed + 1)
        #expect(other.profile(7).speed != profiles.profile(7).speed)
    }

    @Test func deviceClassesAreDrawnWithTheirSharesAndInheritTheSectionsValues() throws {
        let t = try Self.topology("""
        latency_s = 0.2
        up_bps = { distribution = "uniform", min = 1000, max = 2000 }
        [[system.devices]]
        name = "phone"
        share = 0.7
        speed = 50
        availability = 0.5
        [[system.devices]]
        name = "laptop"
        share = 0.3
        speed = 500
        """)
        let system = try #require(t.system)
        #expect(system.devices.map(\.name) == ["phone", "laptop"])
        let profiles = SystemProfiles(devices: system.devices, seed: system.seed)
        let n = 20_000
        let all = (0..<n).map { profiles.profile($0) }
        let phones = all.filter { $0.deviceClass == 0 }
        #expect(abs(Double(phones.count) / Double(n) - 0.7) < 0.015)
        #expect(phones.allSatisfy { $0.speed == 50 && $0.availability == 0.5 && $0.latency == 0.2 })
        #expect(all.filter { $0.deviceClass == 1 }.allSatisfy { $0.speed == 500 && $0.availability == 1 })
        #expect(all.allSatisfy { (1000...2000).contains($0.upBps) })
        let meanUp = all.reduce(0) { $0 + $1.upBps } / Double(n)
        #expect(abs(meanUp - 1500) < 10)
    }

    @Test func systemKeysAreCheckedAndNamed() throws {
        func refused(_ system: String, _ key: String, clientsPerRound: Int = 10) {
            var message = "no error"
            do { _ = try Self.topology(system, clientsPerRound: clientsPerRound) } catch { message = "\(error)" }
            #expect(message.contains("'\(key)"), "\(message)")
        }
        refused("k_fastest = 6", "system.k_fastest", clientsPerRound: 5)
        refused("deadline = -1", "system.deadline")
        refused("straggler_policy = \"wait\"", "system.straggler_policy")
        refused("speed = { distribution = \"gamma\" }", "system.speed.distribution")
        refused("speed = { distribution = \"lognormal\" }", "system.speed.median")
        refused("availability = 1.5", "system.availability")
        refused("spede = 3", "system.spede")
        refused("[[system.devices]]\nshare = 0.5", "system.devices")
        let t = try Self.topology("deadline = 30\nk_fastest = 8\nstraggler_policy = \"stale\"\nonline_period = 4", extra: "[seeds]\nsystem = 99")
        #expect(t.system?.deadline == 30 && t.system?.kFastest == 8 && t.system?.stragglerPolicy == .stale)
        #expect(t.system?.seed == 99 && t.system?.onlinePeriod == 4)
        // --set reaches the section like any other key.
        let dir = NSTemporaryDirectory() + "aviary-sim-\(UUID().uuidString).toml"
        try "[run]\nname = \"x\"\n[system]\ndeadline = 10\n".write(toFile: dir, atomically: true, encoding: .utf8)
        #expect(try Topology.load(path: dir, overrides: ["system.deadline=5"]).system?.deadline == 5)
        #expect(try Topology.parse("[run]\nname = \"x\"").system == nil)
    }

    // MARK: Trace

    @Test func aTraceIsParsedAndBadRowsAreRefusedWithFileAndLine() throws {
        let good = "client,speed,up_bps,down_bps,latency_s,availability\n1,20,1000,2000,0.5,0.9\n0, 10, 100, 200, 0.1, 1\n"
        let rows = try SystemTrace.parse(good, file: "t.csv", clients: 2)
        #expect(rows[0] == SystemProfile(speed: 10, upBps: 100, downBps: 200, latency: 0.1, availability: 1))
        #expect(rows[1].availability == 0.9)
        func refused(_ text: String, _ expected: String) {
            var message = "no error"
            do { _ = try SystemTrace.parse(text, file: "t.csv", clients: 2) } catch { message = "\(error)" }
            #expect(message.contains(expected), "\(message)")
        }
        refused("0,10,100,200,0.1,1\n1,20,1000,2000,0.5\n", "t.csv:2: bad system trace row: 5 fields")
        refused("0,10,100,200,0.1,1\n1,fast,1000,2000,0.5,1\n", "t.csv:2: bad system trace row: speed 'fast'")
        refused("0,10,100,200,0.1,1\n2,20,1000,2000,0.5,1\n", "t.csv:2: bad system trace row: client '2'")
        refused("0,10,100,200,0.1,1\n0,20,1000,2000,0.5,1\n", "t.csv:2: bad system trace row: client 0 has a second row")
        refused("0,10,100,200,0.1,1\n1,20,1000,2000,0.5,1.5\n", "t.csv:2: bad system trace row: availability")
        refused("0,10,100,0,0.1,1\n1,20,1000,2000,0.5,1\n", "t.csv:1: bad system trace row: down_bps must be > 0")
        refused("client,speed\n", "t.csv:1: bad system trace row: header")
        refused("0,10,100,200,0.1,1\n", "t.csv: no row for client 1")
    }

    // MARK: Round timing

    @Test func aDeadlineClosesTheRoundAndNamesTheStragglers() {
        let t = RoundTiming.close(finish: [0: 5, 1: 12, 2: 8], deadline: 10, kFastest: nil)
        #expect(t.onTime == [0, 2] && t.stragglers == [1] && t.duration == 10)
        let allOnTime = RoundTiming.close(finish: [0: 5, 1: 9, 2: 8], deadline: 10, kFastest: nil)
        #expect(allOnTime.stragglers.isEmpty && allOnTime.duration == 9)
        let none = RoundTiming.close(finish: [0: 5, 1: 9], deadline: nil, kFastest: nil)
        #expect(none.stragglers.isEmpty && none.duration == 9)
        #expect(RoundTiming.close(finish: [:], deadline: 10, kFastest: 2).duration == 0)
    }

    @Test func kFastestClosesAtTheKthArrivalWithTiesByClientIndex() {
        let tie = RoundTiming.close(finish: [4: 5, 1: 5, 2: 5, 0: 7], deadline: nil, kFastest: 2)
        #expect(tie.onTime == [1, 2] && tie.stragglers == [0, 4] && tie.duration == 5)
        // The deadline still applies when fewer than k arrive before it.
        let both = RoundTiming.close(finish: [0: 5, 1: 12, 2: 15], deadline: 10, kFastest: 2)
        #expect(both.onTime == [0] && both.stragglers == [1, 2] && both.duration == 10)
        let early = RoundTiming.close(finish: [0: 5, 1: 6, 2: 7], deadline: 10, kFastest: 2)
        #expect(early.onTime == [0, 1] && early.stragglers == [2] && early.duration == 6)
    }

    @Test func roundTimeAddsTransfersLatencyAndTrainingAndPGDCostsKPlusOnePasses() throws {
        let p = SystemProfile(speed: 100, upBps: 1000, downBps: 4000, latency: 0.5, availability: 1)
        // 4000/4000 + 0.5 + 200/100 + 2000/1000 + 0.5
        #expect(RoundTiming.clientSeconds(p, work: 200, downloadBytes: 4000, uploadBytes: 2000) == 6)
        let pgd = try Self.topology("", extra: "[adversarial]\nmode = \"pgd\"\nsteps = 10\nstep_size = 0.01\nepsilon = 0.1")
        #expect(TrainingWork.passes(pgd.adversarial(forClient: 0)) == 11)
        let clean = try Self.topology("")
        #expect(TrainingWork.passes(clean.adversarial(forClient: 0)) == 1)
        let trades = try Self.topology("", extra: "[adversarial]\nmode = \"trades\"\nsteps = 5\nstep_size = 0.03\nepsilon = 0.1")
        #expect(TrainingWork.passes(trades.adversarial(forClient: 0)) == 7)
        // 100 samples, batch 32: 4 batches per epoch (32, 32, 32, 4).
        #expect(TrainingWork.samplesProcessed(samples: 100, epochs: 2, batchSize: 32, maxSteps: nil) == 200)
        #expect(TrainingWork.samplesProcessed(samples: 100, epochs: 2, batchSize: 32, maxSteps: 5) == 132)
        #expect(TrainingWork.samplesProcessed(samples: 100, epochs: 2, batchSize: 32, maxSteps: 3) == 96)
    }

    @Test func aPGDClientTakesElevenTimesTheCleanTrainingTime() throws {
        let settings = SystemSettings(seed: 1, devices: [DeviceClass(name: "d", share: 1, speed: .constant(10), upBps: .constant(1e12),
                                                                     downBps: .constant(1e12), latency: .constant(0), availability: .constant(1))])
        let clean = Self.clock(settings, clients: 1, work: 100 * 1)
        let pgd = Self.clock(settings, clients: 1, work: 100 * 11)
        let c = try #require(clean.timing(sampled: [0]).finish[0]), a = try #require(pgd.timing(sampled: [0]).finish[0])
        #expect(abs(a / c - 11) < 1e-6, "\(a) vs \(c)")
    }

    @Test func secAggChargesThreeExtraRoundTripsOfTheClientsLatency() throws {
        let settings = SystemSettings(seed: 1, devices: [DeviceClass(name: "d", share: 1, speed: .constant(10), upBps: .constant(1e12),
                                                                     downBps: .constant(1e12), latency: .constant(0.25), availability: .constant(1))])
        var clock = Self.clock(settings, clients: 1, work: 100)
        let plain = try #require(clock.timing(sampled: [0]).finish[0])
        clock.extraRoundTrips = 3
        let secure = try #require(clock.timing(sampled: [0]).finish[0])
        #expect(abs(secure - plain - 3 * 2 * 0.25) < 1e-9, "\(secure) vs \(plain)")
    }

    // MARK: Availability

    @Test func independentAvailabilityTakesEachClientOfflineWithItsProbability() {
        let settings = SystemSettings(seed: 5, devices: [DeviceClass(name: "d", share: 1, speed: .constant(1), upBps: .constant(1),
                                                                     downBps: .constant(1), latency: .constant(0), availability: .constant(0.8))])
        var clock = Self.clock(settings, clients: 10_000)
        let r1 = clock.enter(round: 1)
        #expect(abs(Double(r1.count) / 10_000 - 0.2) < 0.015)
        var again = Self.clock(settings, clients: 10_000)
        #expect(again.enter(round: 1) == r1)
        #expect(clock.enter(round: 2) != r1)
        var always = Self.clock(SystemSettings(seed: 5, devices: [DeviceClass(name: "d", share: 1, speed: .constant(1), upBps: .constant(1),
                                                                              downBps: .constant(1), latency: .constant(0), availability: .constant(1))]),
                                clients: 100)
        #expect(always.enter(round: 3).isEmpty)
    }

    @Test func onOffPeriodsKeepTheOnlineShareAndTheirMeanLengthAndReplayAfterResume() {
        var settings = SystemSettings(seed: 9, devices: [DeviceClass(name: "d", share: 1, speed: .constant(1), upBps: .constant(1),
                                                                     downBps: .constant(1), latency: .constant(0), availability: .constant(0.75))])
        settings.onlinePeriod = 6
        var clock = Self.clock(settings, clients: 2_000)
        var offlineTotal = 0, stays = 0, onlineBefore = 0
        var previous: Set<Int> = []
        for r in 1...60 {
            let now = Set(clock.enter(round: r))
            offlineTotal += now.count
            if r > 1 {
                let online = 2_000 - previous.count
                onlineBefore += online
                stays += (0..<2_000).filter { !previous.contains($0) && !now.contains($0) }.count
            }
            previous = now
        }
        // Stationary online share 0.75; an online client stays online with probability 1 − 1/6.
        #expect(abs(Double(offlineTotal) / Double(60 * 2_000) - 0.25) < 0.02)
        #expect(abs(Double(stays) / Double(onlineBefore) - 5.0 / 6.0) < 0.01)
        // A fresh clock entering round 60 replays the chain: the same offline set.
        var fresh = Self.clock(settings, clients: 2_000)
        #expect(Set(fresh.enter(round: 60)) == previous)
        // A restored clock continues exactly as the uninterrupted one.
        var restored = Self.clock(settings, clients: 2_000)
        restored.restore(now: clock.now, round: clock.round, offline: clock.offline)
        #expect(restored.enter(round: 61) == clock.enter(round: 61))
    }

    /// Issue 24: with a = 0.9 the old chain capped the offline→online probability at 1 and
    /// the long-run share fell to L/(L+1) (0.67 at L = 2, 0.8 at L = 4).
    @Test(arguments: [2.0, 4.0]) func highAvailabilityKeepsItsLongRunShareWhateverTheOnlinePeriod(period: Double) {
        var settings = SystemSettings(seed: 3, devices: [DeviceClass(name: "d", share: 1, speed: .constant(1), upBps: .constant(1),
                                                                     downBps: .constant(1), latency: .constant(0), availability: .constant(0.9))])
        settings.onlinePeriod = period
        let clients = 20_000, rounds = 30
        var clock = Self.clock(settings, clients: clients)
        var firstRoundOffline = 0, offlineTotal = 0
        for r in 1...rounds {
            let offline = clock.enter(round: r).count
            if r == 1 { firstRoundOffline = offline }
            offlineTotal += offline
        }
        let share = 1 - Double(offlineTotal) / Double(rounds * clients)
        #expect(abs(share - 0.9) < 0.01, "long-run online share \(share) at L = \(period)")
        // Round 1 is drawn from the stationary share, which is a.
        #expect(abs(1 - Double(firstRoundOffline) / Double(clients) - 0.9) < 0.01)
        let chain = SimulatedClock.transitions(availability: 0.9, onlinePeriod: period)
        #expect(chain.comeOnline == 1 && abs(chain.goOffline - 1.0 / 9.0) < 1e-12, "online period lengthened to a/(1−a) = 9 rounds")
        #expect(abs(chain.comeOnline / (chain.goOffline + chain.comeOnline) - 0.9) < 1e-12)
    }

    // MARK: Straggler policies

    static func outcome(round: Int, clients: [Int]) -> RoundOutcome {
        .init(round: round, sampled: clients,
              updates: clients.map { ClientUpdate(clientIndex: $0, samples: 10, metrics: ["dataset_size": 10], delta: [4, 8]) },
              failures: [], rejected: [], timedOut: [], lost: [])
    }

    @Test func dropLeavesStragglersOutAndStaleMergesThemScaledInTheRoundTheyArriveIn() {
        let timing1 = RoundTiming.close(finish: [0: 5, 1: 25], deadline: 10, kFastest: nil)
        var dropped = Self.outcome(round: 1, clients: [0, 1])
        var buffer: [StaleUpdate] = []
        let drop = SystemRound(round: 1, start: 0, timing: timing1, offline: [7], busy: [], policy: .drop, stalenessExponent: 0.5)
        let record = drop.apply(to: &dropped, buffer: &buffer)
        #expect(dropped.updates.map(\.clientIndex) == [0] && buffer.isEmpty)
        #expect(record.stragglers == [1] && record.offline == [7] && record.offlineCount == 1 && record.roundSeconds == 10 && record.clockSeconds == 10)

        var o1 = Self.outcome(round: 1, clients: [0, 1])
        let stale1 = SystemRound(round: 1, start: 0, timing: timing1, offline: [], busy: [], policy: .stale, stalenessExponent: 0.5)
        _ = stale1.apply(to: &o1, buffer: &buffer)
        #expect(o1.updates.map(\.clientIndex) == [0] && buffer.map(\.arrival) == [25])
        // Round 2 closes at 10 + 8 = 18 < 25: still held.
        var o2 = Self.outcome(round: 2, clients: [0])
        let r2 = SystemRound(round: 2, start: 10, timing: RoundTiming.close(finish: [0: 8], deadline: 10, kFastest: nil),
                             offline: [], busy: [1], policy: .stale, stalenessExponent: 0.5)
        #expect(r2.apply(to: &o2, buffer: &buffer).staleMerged == nil && buffer.count == 1)
        // Round 3 closes at 18 + 8 = 26 ≥ 25: merged, two rounds late, scaled by 3^(−1/2).
        var o3 = Self.outcome(round: 3, clients: [2])
        let r3 = SystemRound(round: 3, start: 18, timing: RoundTiming.close(finish: [2: 8], deadline: 10, kFastest: nil),
                             offline: [], busy: [1], policy: .stale, stalenessExponent: 0.5)
        let rec3 = r3.apply(to: &o3, buffer: &buffer)
        #expect(buffer.isEmpty && o3.updates.map(\.clientIndex) == [1, 2])
        let scale = pow(3.0, -0.5)
        #expect(rec3.staleMerged == [StaleMergedUpdate(client: 1, fromRound: 1, scale: scale)])
        #expect(o3.updates[0].delta == [4 * Float(scale), 8 * Float(scale)])
    }

    @Test func theOfflineListIsBoundedButTheCountIsNot() {
        let r = SystemRoundRecord(roundSeconds: 1, clockSeconds: 1, offline: Array(0..<5000), stragglers: [])
        #expect(r.offline == nil && r.offlineCount == 5000)
    }
}
