import Foundation
import Testing
import AviaryLog

/// `aviary run`'s verdicts and its children's lifetimes, with real processes. Client
/// executables are replaced by scripts where a test needs a process to misbehave.
@Suite(.serialized) struct LauncherTests {
    /// The run completes, but one client process lingers after the server has gone: it is
    /// stopped and reported as a warning; the run exits 0 and says "run complete".
    @Test func lingeringClientIsAWarningNotAFailure() throws {
        let dir = Harness.temporaryDirectory("linger")
        let bin = try Harness.fakeBin(in: dir, clientScript: """
            case " $* " in
              *" proc-1 "*) unset AVIARY_PARENT_PID; "$REAL" "$@"; exec sleep 120 ;;
              *) exec "$REAL" "$@" ;;
            esac
            """)
        let topo = dir + "/t.toml"
        try Harness.topology(name: "linger", output: dir, clients: 4, rounds: 2, processes: 2)
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let out = try Harness.run("aviary", ["run", topo], timeout: 120, bin: bin)
        #expect(out.status == 0, "\(out.output)")
        #expect(out.output.contains("run complete: \(dir)/linger"), "\(out.output)")
        #expect(out.output.contains("warning: client process 1 (clients 1,3) had not exited"), "\(out.output)")
    }

    /// A client process that dies on its own is lost: the run still completes (the server
    /// carries on without it), but `aviary run` names it and exits non-zero.
    @Test func lostClientProcessIsNamedAndTheRunExitsNonZero() throws {
        let dir = Harness.temporaryDirectory("lost")
        let bin = try Harness.fakeBin(in: dir, clientScript: """
            case " $* " in
              *" proc-1 "*) echo 'simulated loss' >&2; exit 3 ;;
              *) exec "$REAL" "$@" ;;
            esac
            """)
        let topo = dir + "/t.toml"
        try Harness.topology(name: "lost", output: dir, clients: 4, rounds: 2, processes: 2, roundTimeout: 3,
                             server: "clients_per_round = 2\nmin_clients = 2").write(toFile: topo, atomically: true, encoding: .utf8)
        let out = try Harness.run("aviary", ["run", topo], timeout: 120, bin: bin)
        #expect(out.status != 0, "\(out.output)")
        #expect(out.output.contains("run complete"), "the server completed:\n\(out.output)")
        #expect(out.output.contains("client process 1 (clients 1,3) exited with status 3 on its own"), "\(out.output)")
        let log = try AggregationLog.read(path: dir + "/lost/aggregation.jsonl")
        #expect(log.runEnd?.status == "completed")
    }

    /// Ctrl-C (SIGINT to the launcher alone): every child is stopped, checked by pid, and the
    /// launcher says how to continue the run.
    @Test func interruptLeavesNoProcessBehindAndPrintsTheResumeCommand() throws {
        let (launcher, children, dir) = try startLongRun("sigint")
        kill(launcher.processIdentifier, SIGINT)
        let deadline = Date().addingTimeInterval(30)
        while launcher.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!launcher.isRunning, "aviary run did not exit within 30 s of SIGINT")
        if launcher.isRunning { kill(launcher.processIdentifier, SIGKILL) }
        launcher.waitUntilExit()
        #expect(launcher.terminationStatus != 0)
        let left = children.filter { !Harness.isGone($0) }
        #expect(left.isEmpty, "processes left after Ctrl-C: \(left); logs in \(dir)")
        for pid in left { kill(pid, SIGKILL) }
        let output = try String(contentsOfFile: dir + "/launcher.out", encoding: .utf8)
        #expect(output.contains("continue it with: aviary run --resume \(dir)/sigint"), "\(output)")
    }

    /// The launcher killed outright (SIGKILL): its children get SIGTERM from the kernel
    /// (PR_SET_PDEATHSIG) and exit.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/stat"), "needs Linux /proc"))
    func killedLauncherTakesItsChildrenWithIt() throws {
        let (launcher, children, dir) = try startLongRun("sigkill")
        kill(launcher.processIdentifier, SIGKILL)
        launcher.waitUntilExit()
        let deadline = Date().addingTimeInterval(30)
        while children.contains(where: { !Harness.isGone($0) }) && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        let left = children.filter { !Harness.isGone($0) }
        #expect(left.isEmpty, "processes left 30 s after the launcher was killed: \(left); logs in \(dir)")
        for pid in left { kill(pid, SIGKILL) }
    }

    /// Starts `aviary run` on a long topology and returns once round 1 is logged, with the
    /// pids of the server and both client processes.
    private func startLongRun(_ name: String) throws -> (Process, [Int32], String) {
        let bin = try #require(Harness.binDirectory)
        let dir = Harness.temporaryDirectory(name)
        let topo = dir + "/t.toml"
        try Harness.topology(name: name, output: dir, clients: 4, rounds: 100_000, processes: 2, epochs: 5)
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin + "/aviary")
        p.arguments = ["run", topo]
        FileManager.default.createFile(atPath: dir + "/launcher.out", contents: nil)
        let sink = FileHandle(forWritingAtPath: dir + "/launcher.out")
        p.standardOutput = sink
        p.standardError = sink
        try p.run()
        let deadline = Date().addingTimeInterval(60)
        var children: [Int32] = []
        while Date() < deadline {
            if let log = try? AggregationLog.read(path: dir + "/\(name)/aggregation.jsonl"), !log.rounds.isEmpty {
                children = Harness.children(of: p.processIdentifier)
                if children.count == 3 { break }
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(children.count == 3, "expected the server and 2 client processes, found \(children)")
        return (p, children, dir)
    }
}
