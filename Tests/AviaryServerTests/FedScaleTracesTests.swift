import Foundation
import Testing
@testable import AviaryServer
@testable import AviaryTopology

/// FedScale's device capacity and behaviour traces, as JSON with FedScale's fields: units,
/// client mapping, refusals naming the client, and availability on the simulated clock.
@Suite struct FedScaleTracesTests {
    static func file(_ json: String) throws -> String {
        let path = NSTemporaryDirectory() + "aviary-fedscale-\(UUID().uuidString).json"
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func deviceCapacityBecomesSpeedAndBandwidthInFedScalesUnits() throws {
        // Ids out of order: entries are taken by ascending id. 10 ms/sample inference → 3 × 10 ms
        // per trained sample → 33.3 samples/s; 800 kbit/s → 100,000 bytes/s.
        let path = try Self.file(#"{"12": {"computation": 20, "communication": 8000}, "3": {"computation": 10, "communication": 800, "extra": 1}}"#)
        let c = try FedScaleTraces.capacities(path: path)
        #expect(c == [.init(computation: 10, communication: 800), .init(computation: 20, communication: 8000)])
        #expect(abs(c[0].speed - 1000.0 / 30) < 1e-12 && c[0].bytesPerSecond == 100_000)
        let base = SystemProfiles(devices: [DeviceClass(name: "d", share: 1, speed: .constant(1), upBps: .constant(1), downBps: .constant(1),
                                                        latency: .constant(0.3), availability: .constant(0.7))], seed: 1)
        let profiles = SystemProfiles(capacities: c, over: base, clients: 5)
        // Client i takes entry i mod 2, and keeps the drawn latency and availability.
        #expect(profiles.profile(4).speed == c[0].speed && profiles.profile(3).upBps == 1_000_000 && profiles.profile(3).downBps == 1_000_000)
        #expect(profiles.profile(1).latency == 0.3 && profiles.profile(1).availability == 0.7)
    }

    @Test func badEntriesAreRefusedNamingFileAndClient() throws {
        func refused(_ json: String, _ expected: String, behaviour: Bool = false) throws {
            let path = try Self.file(json)
            var message = "no error"
            do {
                if behaviour { _ = try FedScaleTraces.behaviours(path: path) } else { _ = try FedScaleTraces.capacities(path: path) }
            } catch { message = "\(error)" }
            #expect(message.hasPrefix(path) && message.contains(expected), "\(message)")
        }
        try refused(#"{"1": {"computation": 10}}"#, "client '1': no 'communication'")
        try refused(#"{"1": {"computation": 0, "communication": 5}}"#, "client '1': 'computation' must be a finite number > 0")
        try refused(#"{"x": {"computation": 1, "communication": 5}}"#, "client 'x': the id is not an integer")
        try refused(#"[1, 2]"#, "not a non-empty JSON object")
        try refused(#"{"1": {"active": [0, 10], "inactive": [5], "finish_time": 20}}"#, "the same, non-zero number", behaviour: true)
        try refused(#"{"1": {"active": [6], "inactive": [5], "finish_time": 20}}"#, "interval 0 starts at 6.0 after it ends at 5.0", behaviour: true)
        try refused(#"{"1": {"active": ["a"], "inactive": [5], "finish_time": 20}}"#, "arrays of finite numbers", behaviour: true)
        #expect(throws: SystemTraceError.unreadable(file: "/nonexistent.json", reason: "no such file")) {
            try FedScaleTraces.capacities(path: "/nonexistent.json")
        }
    }

    @Test func behaviourTracesDecideWhoIsOnlineAtTheRoundsStartOnTheClock() throws {
        // Client 0 (id 1): online in [0, 50] and [100, 150] of every 200 s; client 1 (id 2): [60, 90].
        let path = try Self.file(#"{"2": {"active": [60], "inactive": [90], "finish_time": 200}, "1": {"active": [0, 100], "inactive": [50, 150], "finish_time": 200}}"#)
        let traces = try FedScaleTraces.behaviours(path: path)
        #expect(traces[0].isActive(at: 0) && traces[0].isActive(at: 50) && !traces[0].isActive(at: 75) && traces[0].isActive(at: 320))
        #expect(!traces[1].isActive(at: 10) && traces[1].isActive(at: 270))
        let settings = SystemSettings(seed: 1, devices: [DeviceClass(name: "d", share: 1, speed: .constant(1), upBps: .constant(1e9),
                                                                     downBps: .constant(1e9), latency: .constant(0), availability: .constant(1))])
        var clock = SimulatedClock(settings: settings, profiles: SystemProfiles(devices: settings.devices, seed: 1),
                                   work: [1, 1, 1], parameterCount: 10, behaviour: [traces[0], traces[1], traces[0]])
        #expect(clock.enter(round: 1) == [1])            // t = 0
        clock.advance(by: 70)
        #expect(clock.enter(round: 2) == [0, 2])         // t = 70
        clock.advance(by: 40)
        #expect(clock.enter(round: 3) == [1])            // t = 110
        // A restored clock at the same time agrees: availability is a function of the clock.
        var restored = SimulatedClock(settings: settings, profiles: SystemProfiles(devices: settings.devices, seed: 1),
                                      work: [1, 1, 1], parameterCount: 10, behaviour: [traces[0], traces[1], traces[0]])
        restored.restore(now: clock.now, round: 3, offline: clock.offline)
        clock.advance(by: 100); restored.advance(by: 100)
        #expect(restored.enter(round: 4) == clock.enter(round: 4))
    }

    @Test func topologyKeysAndWhatTheyReplace() throws {
        let t = try SimulatedClockTests.topology("device_capacity = \"d.json\"\nbehaviour_trace = \"b.json\"\nspeed = 5\navailability = 0.5\nonline_period = 3")
        #expect(t.system?.deviceCapacity == "d.json" && t.system?.behaviourTrace == "b.json" && t.system?.onlinePeriod == nil)
        for key in ["system.speed", "system.availability", "system.online_period"] {
            #expect(t.warnings.contains { $0.contains("'\(key)' is ignored") }, "\(key): \(t.warnings)")
        }
        var message = "no error"
        do { _ = try SimulatedClockTests.topology("trace = \"t.csv\"\ndevice_capacity = \"d.json\"") } catch { message = "\(error)" }
        #expect(message.contains("system.device_capacity"), "\(message)")
    }
}
