import Foundation
import Testing
import CProcessControl
@testable import AviaryCommands

/// `aviary run` puts its client processes under SCHED_BATCH and leaves others alone.
@Suite struct ClientSchedulingTests {
    #if os(Linux)
    @Test func aSpawnedClientProcessRunsUnderBatchSchedulingAndTheLauncherDoesNot() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sleep")
        p.arguments = ["60"]
        try p.run()
        // SIGKILL: the test runner's children may inherit a blocked SIGTERM.
        defer { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        let pid = p.processIdentifier
        #expect(aviary_scheduling_policy(pid) == 0, "a new process starts under SCHED_OTHER")
        ProcessLauncher.scheduleAsBatch(p)
        #expect(aviary_scheduling_policy(pid) == 3, "SCHED_BATCH is 3")
        #expect(aviary_scheduling_policy(0) == 0, "the launcher's own thread keeps its policy")
    }
    #endif
}
