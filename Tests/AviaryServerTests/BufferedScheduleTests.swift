import Foundation
import Testing
import AviaryMerge
@testable import AviaryServer
@testable import AviaryTopology

/// Buffered aggregation's event schedule without a server: arrival order on the simulated clock,
/// ties, staleness, discards, replacement draws and the saved state, on hand-computed numbers.
@Suite struct BufferedScheduleTests {
    static func schedule(clients: Int, concurrency: Int, k: Int, maxStaleness: Int? = nil, seed: UInt64 = 2) -> BufferedSchedule {
        BufferedSchedule(settings: BufferedSettings(concurrency: concurrency, bufferSize: k, maxStaleness: maxStaleness),
                         clients: clients, samplingSeed: seed)
    }

    /// Client 0 takes 10 s, clients 1 and 2 take 3 s; all three train at once, K = 2.
    static func seconds(_ c: Int) -> Double { [10, 3, 3][c] }
    static func always(_ c: Int, _ draw: Int) -> Bool { true }

    @Test func arrivalsFollowCompletionTimeWithTiesByClientIndexAndStalenessCountsVersions() {
        var s = Self.schedule(clients: 3, concurrency: 3, k: 2)
        #expect(Set(s.fill(seconds: Self.seconds, online: Self.always).map(\.client)) == [0, 1, 2])
        var trace: [(client: Int, time: Double, staleness: Int, update: [Int]?)] = []
        while trace.count < 7, let step = s.advance() {
            trace.append((step.arrival.client, step.arrival.completion, step.staleness, step.update?.map(\.client)))
            _ = s.fill(seconds: Self.seconds, online: Self.always)
        }
        // t = 3: clients 1 and 2 tie; 1 goes first. Their buffer is version 1, and both restart
        // on it at t = 3 (finishing at 6), then on version 2 (finishing at 9), then on version 3.
        // Client 0, sent version 0, arrives at t = 10 when the server is at version 3.
        let expected: [(Int, Double, Int, [Int]?)] = [(1, 3, 0, nil), (2, 3, 0, [1, 2]), (1, 6, 0, nil), (2, 6, 0, [1, 2]),
                                                      (1, 9, 0, nil), (2, 9, 0, [1, 2]), (0, 10, 3, nil)]
        #expect(trace.count == expected.count)
        for (got, want) in zip(trace, expected) {
            #expect(got.client == want.0 && got.time == want.1 && got.staleness == want.2 && got.update == want.3, "\(got) vs \(want)")
        }
        #expect(s.version == 3 && s.now == 10)
        #expect(s.buffer.map(\.client) == [0])
    }

    @Test func updatesStalerThanMaxStalenessAreDiscardedAndNeverBuffered() {
        var s = Self.schedule(clients: 3, concurrency: 3, k: 2, maxStaleness: 2)
        _ = s.fill(seconds: Self.seconds, online: Self.always)
        var discarded: [BufferedStep] = []
        for _ in 0..<7 {
            guard let step = s.advance() else { break }
            if step.discarded { discarded.append(step) }
            _ = s.fill(seconds: Self.seconds, online: Self.always)
        }
        #expect(discarded.map(\.arrival.client) == [0] && discarded.map(\.staleness) == [3])
        #expect(s.buffer.isEmpty)
    }

    @Test func replacementsStartWhenTheSlotFreesOnTheNewestVersion() {
        var s = Self.schedule(clients: 4, concurrency: 1, k: 1)
        let first = s.fill(seconds: { Double($0 + 1) }, online: Self.always)
        #expect(first.count == 1 && first[0].start == 0 && first[0].startVersion == 0)
        let step = s.advance()!
        #expect(step.update != nil && s.version == 1)
        let next = s.fill(seconds: { Double($0 + 1) }, online: Self.always)
        #expect(next.count == 1 && next[0].start == step.arrival.completion && next[0].startVersion == 1)
        #expect(next[0].completion == step.arrival.completion + Double(next[0].client + 1))
    }

    @Test func drawsSkipBusyAndOfflineClientsAndAreAPureFunctionOfTheSeed() {
        var a = Self.schedule(clients: 100, concurrency: 10, k: 3, seed: 7)
        var b = Self.schedule(clients: 100, concurrency: 10, k: 3, seed: 7)
        var c = Self.schedule(clients: 100, concurrency: 10, k: 3, seed: 8)
        let even: (Int, Int) -> Bool = { client, _ in client % 2 == 0 }
        let secs: (Int) -> Double = { 1 + Double($0 % 7) }
        var runA: [InFlightClient] = a.fill(seconds: secs, online: even)
        var runB: [InFlightClient] = b.fill(seconds: secs, online: even)
        let runC = c.fill(seconds: secs, online: even)
        for _ in 0..<50 {
            _ = a.advance(); _ = b.advance()
            runA += a.fill(seconds: secs, online: even); runB += b.fill(seconds: secs, online: even)
            #expect(Set(a.inFlight.map(\.client)).count == a.inFlight.count)
            #expect(Set(a.inFlight.map(\.client)).isDisjoint(with: a.buffer.map(\.client)))
        }
        #expect(runA == runB)
        #expect(runA.allSatisfy { $0.client % 2 == 0 })
        #expect(runA.prefix(10).map(\.client) != runC.map(\.client))
    }

    @Test func aSlotNobodyCanTakeStaysFreeUntilSomeoneCan() {
        var s = Self.schedule(clients: 3, concurrency: 3, k: 3)
        let started = s.fill(seconds: { _ in 1 }, online: { c, _ in c == 1 })
        #expect(started.map(\.client) == [1] && s.inFlight.count == 1)
        _ = s.advance()
        #expect(s.fill(seconds: { _ in 1 }, online: { c, _ in c == 1 }).isEmpty)   // client 1 waits in the buffer
        #expect(s.advance() == nil)
    }

    @Test func theScheduleSurvivesAJSONRoundTripMidRun() throws {
        var s = Self.schedule(clients: 50, concurrency: 8, k: 3, maxStaleness: 4)
        let secs: (Int) -> Double = { 0.1 + Double($0 % 5) * 1.37 }
        _ = s.fill(seconds: secs, online: Self.always)
        for _ in 0..<20 { _ = s.advance(); _ = s.fill(seconds: secs, online: Self.always) }
        var restored = try JSONDecoder().decode(BufferedSchedule.self, from: JSONEncoder().encode(s))
        #expect(restored == s)
        for _ in 0..<30 {
            #expect(restored.advance() == s.advance())
            #expect(restored.fill(seconds: secs, online: Self.always) == s.fill(seconds: secs, online: Self.always))
        }
    }

    @Test func clientSecondsAndAvailabilityComeFromTheSystemProfiles() throws {
        let t = try SimulatedClockTests.topology("speed = 100\nup_bps = 1000\ndown_bps = 1000\nlatency_s = 0.5\navailability = 0.5")
        let system = try #require(t.system)
        let clock = SimulatedClockTests.clock(system, clients: 10, work: 200, parameters: 10)
        let expected = RoundTiming.clientSeconds(clock.profiles.profile(3), work: 200,
                                                 downloadBytes: TransferSize.downloadBytes(parameterCount: 10), uploadBytes: clock.uploadBytes)
        #expect(clock.clientSeconds(3) == expected)
        let online = (0..<2000).filter { clock.isOnline(client: $0 % 10, draw: $0, at: 0) }.count
        #expect(abs(Double(online) / 2000 - 0.5) < 0.05)
        #expect((0..<50).map { clock.isOnline(client: 1, draw: $0, at: 0) } == (0..<50).map { clock.isOnline(client: 1, draw: $0, at: 99) })
    }

    @Test func aPlanThatCanNeverArriveAgainSaysWhereAndWhyItStalled() {
        // Only client 1 is ever online, K = 3: it arrives at 1 s and waits in the buffer; nobody
        // else can start, so nothing can ever arrive and not even update 1 is made.
        let stalled = BufferedPlan(schedule: Self.schedule(clients: 3, concurrency: 3, k: 3), rounds: 2,
                                   seconds: { _ in 1 }, online: { c, _, _ in c == 1 })
        #expect(stalled.updates.isEmpty)
        #expect(stalled.stall == BufferedPlan.Stall(version: 0, time: 1, buffered: 1, idle: 2))
        let text = "\(BufferedPlanError.stalled(stalled.stall!, rounds: 2, bufferSize: 3))"
        #expect(text.contains("stalls after server update 0 of 2 ([run] rounds), at simulated 1.0 s: no client is in flight"))
        #expect(text.contains("1 of the buffer's 3 arrivals are waiting, and none of the 2 idle clients was online"))
        // Online until 5 s: updates 1 and 2 (K = 1) come, then the clients go offline for good.
        let late = BufferedPlan(schedule: Self.schedule(clients: 2, concurrency: 1, k: 1), rounds: 9,
                                seconds: { _ in 3 }, online: { _, _, t in t < 5 })
        #expect(late.updates.count == 2 && late.stall?.version == 2 && late.stall?.time == 6)
        let whole = BufferedPlan(schedule: Self.schedule(clients: 3, concurrency: 3, k: 2), rounds: 4, seconds: Self.seconds,
                                 online: { _, _, _ in true })
        #expect(whole.updates.count == 4 && whole.stall == nil)
    }
}
