import Testing
@testable import AviaryServer

/// Which clients a run lost and whether they came back, and when that makes it `degraded`.
@Suite struct PopulationWatchTests {
    @Test func clientsLostForGoodBeyondTheShareDegradeTheRun() {
        var watch = PopulationWatch()
        watch.registered([0, 1, 2, 3], registeredCount: 4)
        watch.lost([2, 3])
        #expect(watch.degradedReason(maxLostShare: 0.1)?.hasPrefix("2 of 4 registered clients were lost and did not come back (clients 2,3") == true)
        #expect(watch.degradedReason(maxLostShare: 0.5) == nil, "exactly half is not more than half")
        #expect(watch.summary == "clients 2,3 lost and not back (2 of 4)")
    }

    @Test func clientsThatComeBackDoNotDegradeTheRunButAreNamed() {
        var watch = PopulationWatch()
        watch.registered([0, 1, 2, 3], registeredCount: 4)
        watch.lost([2, 3])
        watch.registered([2, 3], registeredCount: 4)
        #expect(watch.degradedReason(maxLostShare: 0) == nil)
        #expect(watch.summary == "clients 2,3 lost and came back")
        watch.lost([3])
        #expect(watch.summary == "clients 3 lost and not back (1 of 4); clients 2 lost and came back")
    }

    @Test func nothingLostSaysNothing() {
        var watch = PopulationWatch(registered: 10)
        watch.registered([4], registeredCount: 10)
        #expect(watch.summary == nil && watch.degradedReason(maxLostShare: 0) == nil)
    }
}
