import Foundation
import CProcessControl
import AviaryLog
import AviaryMath
import AviaryTopology

/// Starts a topology as separate OS processes on this machine: one `aviary-server`, then
/// `client_processes` × `aviary-client`, each hosting a share of the client indices. The
/// processes share nothing but ZeroMQ messages (and the server's run directory, which only
/// the server writes).
///
/// The server's exit status decides whether the run completed. After it exits 0, clients get
/// `clientGrace` seconds to leave on SHUTDOWN; stragglers are then stopped and reported as a
/// warning. After a server killed by a signal (no SHUTDOWN) they are stopped at once. A client process that exits non-zero or by a signal on its own, before the launcher
/// stopped it, is *lost*: named in the outcome, and the run exits non-zero.
struct ProcessLauncher {
    /// How the server is asked to start; the run directory is `topology.output/topology.name`.
    enum Mode {
        /// A directory this launcher has just claimed (it did not exist before).
        case fresh(topologyPath: String)
        /// Replace the run there (`--overwrite`): the user asked for its files to go.
        case overwrite(topologyPath: String)
        /// Continue the run there: process logs are appended to, never truncated.
        case resume
    }

    /// A completed run (the server exited 0), with what went wrong on the side.
    struct Outcome {
        var lost: [String]
        var stragglers: [String]
        var memory: ProcessMemory
    }

    let topology: Topology
    let mode: Mode
    let binDirectory: String
    /// Seconds clients get to exit on their own after the server has exited 0.
    var clientGrace: Double = 15
    /// Seconds between SIGTERM and SIGKILL when stopping a process.
    var stopGrace: Double = 5
    /// `--set` overrides, passed on to the server (which saves the resolved topology).
    var overrides: [String] = []
    /// The server's progress goes to its log instead of this terminal (a sweep runs several at once).
    var quiet = false
    /// This launch's children: stopping them never touches another launch's (a sweep's parallel runs).
    let children = LaunchedProcesses()

    /// The variable that tells children who launched them (they ask to die with it).
    static let parentVariable = "AVIARY_PARENT_PID"

    final class Child {
        let process: Process
        let number: Int
        let log: String
        let clients: [Int]
        /// Set once the launcher has sent it a signal: its exit is then ours, not a loss.
        var stopped = false
        var reported = false
        init(process: Process, number: Int, log: String, clients: [Int]) {
            self.process = process; self.number = number; self.log = log; self.clients = clients
        }
        var name: String { "client process \(number) (clients \(ClientSet.compact(clients)))" }
        var failedOnItsOwn: Bool {
            !stopped && (process.terminationReason == .uncaughtSignal || process.terminationStatus != 0)
        }
    }

    var directory: RunDirectory { RunDirectory(path: topology.output + "/" + topology.name) }

    func run() throws(LaunchError) -> Outcome {
        let dir = directory
        do {
            try FileManager.default.createDirectory(atPath: dir.logs, withIntermediateDirectories: true)
        } catch {
            throw .cannotCreateRunDirectory(key: "[run].output", path: dir.logs, reason: ErrorReason.of(error))
        }
        var serverArgs: [String]
        switch mode {
        case let .fresh(path): serverArgs = ["--topology", path, "--name", topology.name, "--claimed"]
        case let .overwrite(path): serverArgs = ["--topology", path, "--name", topology.name, "--overwrite"]
        case .resume: serverArgs = ["--resume", dir.path]
        }
        for o in overrides { serverArgs += ["--set", o] }
        // With [security] curve = true: fresh keys for this launch, bound to each process's share.
        let keys = topology.security.curve ? dir.path + "/keys" : nil
        let plans = ClientProcessPlan.plans(for: topology)
        if let keys {
            do {
                try CurveKeyFile.writeLaunchKeys(in: keys, clients: topology.data.clients, shares: plans.map(\.clients))
            } catch { throw .cannotCreateKeys(path: keys, reason: "\(error)") }
            serverArgs += ["--curve-secret", keys + "/server.secret", "--allow", keys + "/allowed.txt"]
        }
        if case .fresh = mode {} else {
            // Only with the user's consent (--overwrite or --resume): a stale endpoint would
            // send the clients to a server that is gone.
            try? FileManager.default.removeItem(atPath: dir.endpoint)
        }
        let server = try spawn("aviary-server", serverArgs, log: dir.serverLog, passStdout: !quiet)
        children.add(server)

        let endpoint: String
        do { endpoint = try waitForEndpoint(dir: dir, server: server) } catch {
            children.stopAll(grace: stopGrace)
            if case .fresh = mode, case let .serverExitedBeforeListening(status, _, tail) = error, RunPlacement.releaseUnstarted(dir) {
                throw .serverExitedBeforeListening(status: status, log: nil, tail: tail)
            }
            throw error
        }
        var clients: [Child] = []
        for (p, plan) in plans.enumerated() {
            let ids = plan.clients
            let log = dir.clientLog(process: p)
            let proc: Process
            // A `[processes] command` process gets exactly aviary-client's arguments after its own
            // (docs/TOPOLOGY.md, "[processes]"), so an SDK's command line accepts the same flags.
            var args = Array(plan.command?.dropFirst() ?? []) + ["--connect", endpoint] + plan.arguments + ["--name", "proc-\(p)"]
            // Top-k residuals live with the clients; under the run directory they survive
            // `aviary run --resume`, which starts new client processes.
            if topology.compression.usesErrorFeedback(topology.quantisation) { args += ["--state-dir", dir.clientState] }
            if let keys { args += ["--curve-secret", "\(keys)/client-\(p).secret", "--server-public", keys + "/server.public"] }
            do {
                proc = try spawn(plan.command?.first ?? "aviary-client", args, log: log, passStdout: false, fromPath: plan.command != nil)
            } catch {
                children.stopAll(grace: stopGrace)
                throw error
            }
            children.add(proc)
            Self.scheduleAsBatch(proc)
            clients.append(Child(process: proc, number: p, log: log, clients: ids))
        }

        var lost: [String] = []
        func collectExits() {
            for c in clients where !c.process.isRunning && !c.reported {
                c.reported = true
                if c.failedOnItsOwn {
                    let msg = "\(c.name) \(Self.describe(c.process)) on its own; see \(c.log)"
                    FileHandle.standardError.write(Data("aviary: lost \(msg)\n\(Self.tail(c.log))".utf8))
                    lost.append(msg)
                }
            }
        }

        var allGoneSince: Date?
        var memory = ProcessMemory()
        while server.isRunning && !children.interrupted {
            collectExits()
            memory.sample(server: server, clients: clients.map(\.process))
            // Every client process is gone and some failed: the server can only wait out its
            // timeouts now, so stop it instead of making the user wait. If some left cleanly
            // (on SHUTDOWN), the server may be finishing: give it `clientGrace` first, so the
            // verdict does not depend on which process the kernel lets exit first.
            if !lost.isEmpty && clients.allSatisfy({ !$0.process.isRunning }) {
                let since = allGoneSince ?? Date()
                allGoneSince = since
                let someLeftCleanly = lost.count < clients.count
                if !someLeftCleanly || Date().timeIntervalSince(since) > clientGrace {
                    children.stopAll(grace: stopGrace)
                    throw .everyClientExited(lost: lost)
                }
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        if children.interrupted {
            for c in clients { c.stopped = true }
            children.stopAll(grace: stopGrace)
            throw .interrupted(log: dir.log, directory: resumable(dir))
        }
        server.waitUntilExit()

        // Clients leave on SHUTDOWN; give them time before any signal. A server killed by a
        // signal sent none, so its clients would only wait out their --server-timeout.
        let killed = server.terminationReason == .uncaughtSignal
        let deadline = Date().addingTimeInterval(killed ? 0 : clientGrace)
        while clients.contains(where: { $0.process.isRunning }) && Date() < deadline && !children.interrupted {
            collectExits()
            Thread.sleep(forTimeInterval: 0.05)
        }
        collectExits()
        let lingering = clients.filter { $0.process.isRunning }
        for c in lingering { c.stopped = true }
        var stragglers: [String] = []
        if lingering.count == 1 {
            stragglers.append("\(lingering[0].name) had not exited \(Int(clientGrace)) s after the server; it was stopped")
        } else if lingering.count > 1 {
            // One line for all of them: with many processes, one line each buries the summary.
            stragglers.append("client processes \(ClientSet.compact(lingering.map(\.number))) had not exited "
                              + "\(Int(clientGrace)) s after the server; they were stopped (logs in \(dir.logs))")
        }
        children.stopAll(grace: stopGrace)
        collectExits()

        if server.terminationReason == .uncaughtSignal || server.terminationStatus != 0 {
            throw .serverFailed(status: Self.describe(server), log: dir.serverLog, tail: Self.tail(dir.serverLog), lost: lost)
        }
        return Outcome(lost: lost, stragglers: stragglers, memory: memory)
    }

    /// The run directory when `--resume` can continue it (its server wrote topology.toml).
    private func resumable(_ dir: RunDirectory) -> String? {
        FileManager.default.fileExists(atPath: dir.topology) ? dir.path : nil
    }

    private func waitForEndpoint(dir: RunDirectory, server: Process) throws(LaunchError) -> String {
        let seconds = max(60, topology.server.registrationTimeout)
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if children.interrupted { throw .interrupted(log: dir.log, directory: resumable(dir)) }
            if let text = try? String(contentsOfFile: dir.endpoint, encoding: .utf8), text.hasSuffix("\n") {
                return text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            if !server.isRunning {
                throw .serverExitedBeforeListening(status: Self.describe(server), log: dir.serverLog, tail: Self.tail(dir.serverLog))
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw .serverNeverListened(seconds: seconds, log: dir.serverLog)
    }

    /// Starts `tool` from the build's directory, or (`fromPath`: a `[processes] command`) as a
    /// shell would find it: a path with a slash as it is, a bare name on PATH.
    /// Client processes run under SCHED_BATCH, the server as it was started: the kernel does not
    /// let a waking batch task preempt a running one, so a client woken by its TRAIN does not push
    /// the server's loop off its core mid-write (on a machine with fewer cores than processes it
    /// would wait out a client's slice, 5–10 ms; a FedBuff update is ~70 ms). The clients' work
    /// and CPU share are unchanged. Set right after the spawn, on the main thread before it starts
    /// others (they inherit it); a failure is harmless and ignored (docs/TOPOLOGY.md, "[processes]").
    static func scheduleAsBatch(_ process: Process) {
        _ = aviary_set_batch_scheduling(process.processIdentifier)
    }

    private func spawn(_ tool: String, _ args: [String], log: String, passStdout: Bool, fromPath: Bool = false) throws(LaunchError) -> Process {
        let path = fromPath ? Self.onPath(tool) : binDirectory + "/" + tool
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw .missingExecutable(path: fromPath && !tool.contains("/") ? "\(tool) (on PATH, from [processes] command)" : path)
        }
        let handle = try openLog(log)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        p.standardError = handle
        p.standardOutput = passStdout ? FileHandle.standardOutput : handle
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_NUM_THREADS"] = String(topology.processes.blasThreads)
        // One kernel set for every process of the run, whatever this CPU would pick.
        if let core = topology.processes.blasCoreType { env[BLAS.coreTypeVariable] = core }
        env[Self.parentVariable] = String(getpid())
        p.environment = env
        do { try p.run() } catch { throw .cannotStart(executable: path, reason: ErrorReason.of(error)) }
        try? handle.close()  // the child holds its own copy
        return p
    }

    /// A fresh or overwritten run truncates its process logs; a resumed one appends after a
    /// separator line, so the crash evidence stays.
    private func openLog(_ path: String) throws(LaunchError) -> FileHandle {
        let append: Bool
        if case .resume = mode { append = true } else { append = false }
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC)
        let fd = open(path, flags, 0o644)
        guard fd >= 0 else { throw .cannotOpenLog(path: path, reason: posixReason(errno)) }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        if append {
            let stamp = ISO8601DateFormatter().string(from: Date())
            handle.write(Data("\n----- aviary run --resume, \(stamp) -----\n".utf8))
        }
        return handle
    }

    /// `name` as execvp finds it: itself when it holds a slash, else the first executable on PATH
    /// (the name itself when none is, so the error names it).
    static func onPath(_ name: String) -> String {
        guard !name.contains("/") else { return name }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return name
    }

    static func describe(_ p: Process) -> String {
        p.terminationReason == .uncaughtSignal ? "was killed by signal \(p.terminationStatus)" : "exited with status \(p.terminationStatus)"
    }

    static func tail(_ path: String, lines: Int = 8) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "" }
        let last = text.split(separator: "\n", omittingEmptySubsequences: true).suffix(lines)
        return last.isEmpty ? "" : last.map { "    | " + $0 }.joined(separator: "\n") + "\n"
    }
}

/// Every child one launch started, so any path out of it (error, Ctrl-C, SIGTERM) can stop
/// them all. The signal handler only sets `interruptRequested`; the launcher loop acts on it.
final class LaunchedProcesses: @unchecked Sendable {
    // @unchecked: all access to `processes` goes through `lock`.
    private let lock = NSLock()
    private var processes: [Process] = []

    var interrupted: Bool { interruptRequested != 0 }
    func add(_ p: Process) { lock.withLock { processes.append(p) } }

    /// SIGTERM to every running child at once, then SIGKILL to any still running after
    /// `grace` seconds; returns when all have been reaped, so none is left behind.
    func stopAll(grace: Double) {
        let all = lock.withLock { processes }
        for p in all where p.isRunning { kill(p.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(grace)
        while all.contains(where: { $0.isRunning }) && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        for p in all where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        for p in all { p.waitUntilExit() }
    }
}
