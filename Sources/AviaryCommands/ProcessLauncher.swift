import Foundation
import AviaryLog
import AviaryTopology

/// Starts a topology as separate OS processes on this machine: one `aviary-server`, then
/// `client_processes` × `aviary-client`, each hosting a share of the client indices. The
/// processes share nothing but ZeroMQ messages (and the server's run directory, which only
/// the server writes). Any process that fails is named, with its log file.
struct ProcessLauncher {
    let topology: Topology
    let topologyPath: String
    let overwrite: Bool
    let binDirectory: String

    struct Failure: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    /// Client indices for process p of P: round-robin, so sampled clients spread over processes.
    static func indices(process p: Int, of processes: Int, clients: Int) -> [Int] {
        Array(stride(from: p, to: clients, by: processes))
    }

    func run() throws {
        let dir = RunDirectory(path: topology.output + "/" + topology.name)
        try FileManager.default.createDirectory(atPath: dir.logs, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: dir.endpoint)

        var serverArgs = ["--topology", topologyPath]
        if overwrite { serverArgs.append("--overwrite") }
        let server = try spawn(binDirectory + "/aviary-server", serverArgs, log: dir.serverLog, passStdout: true)
        LaunchedProcesses.shared.add(server)

        // Wait for the server to bind (it writes the endpoint when it listens).
        let endpoint = try waitForEndpoint(dir: dir, server: server)
        var clients: [(process: Process, index: Int, log: String, clients: [Int])] = []
        for p in 0..<topology.processes.clientProcesses {
            let ids = Self.indices(process: p, of: topology.processes.clientProcesses, clients: topology.data.clients)
            let log = dir.clientLog(process: p)
            let proc = try spawn(binDirectory + "/aviary-client",
                                 ["--connect", endpoint, "--clients", ids.map(String.init).joined(separator: ","), "--name", "proc-\(p)"],
                                 log: log, passStdout: false)
            LaunchedProcesses.shared.add(proc)
            clients.append((proc, p, log, ids))
        }

        var reported = Set<Int>()
        var failures: [String] = []
        while server.isRunning {
            for c in clients where !c.process.isRunning && !reported.contains(c.index) {
                reported.insert(c.index)
                if c.process.terminationStatus != 0 || c.process.terminationReason == .uncaughtSignal {
                    let msg = "client process \(c.index) (clients \(c.clients.map(String.init).joined(separator: ","))) \(describe(c.process)); see \(c.log)"
                    FileHandle.standardError.write(Data("aviary: \(msg)\n\(tail(c.log))".utf8))
                    failures.append(msg)
                }
            }
            if LaunchedProcesses.shared.interrupted { break }
            // Every client process is gone and some failed: the server can only wait out its
            // timeouts now, so stop it instead of making the user wait.
            if !failures.isEmpty && clients.allSatisfy({ !$0.process.isRunning }) {
                stop(server)
                throw Failure(message: "every client process has exited, \(failures.count) with an error; the server was stopped:\n  "
                              + failures.joined(separator: "\n  "))
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        if LaunchedProcesses.shared.interrupted {
            LaunchedProcesses.shared.terminateAll()
            throw Failure(message: "interrupted; processes stopped. The log so far is in \(dir.log)")
        }
        server.waitUntilExit()
        // Clients leave on SHUTDOWN; give them a moment, then stop stragglers.
        let deadline = Date().addingTimeInterval(10)
        while clients.contains(where: { $0.process.isRunning }) && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        for c in clients where c.process.isRunning { stop(c.process) }
        for c in clients {
            c.process.waitUntilExit()
            if !reported.contains(c.index), c.process.terminationStatus != 0 {
                failures.append("client process \(c.index) \(describe(c.process)); see \(c.log)")
            }
        }
        if server.terminationStatus != 0 || server.terminationReason == .uncaughtSignal {
            throw Failure(message: "aviary-server \(describe(server)); see \(dir.serverLog)\n\(tail(dir.serverLog))")
        }
        if !failures.isEmpty {
            throw Failure(message: "the run finished, but \(failures.count) client process(es) failed:\n  " + failures.joined(separator: "\n  "))
        }
        say("run complete: \(dir.path)  (inspect with: aviary logs \(dir.path))")
    }

    /// SIGTERM, then SIGKILL after a grace period: a stuck child must not hang the launcher.
    private func stop(_ p: Process, grace: Double = 5) {
        guard p.isRunning else { return }
        p.terminate()
        let deadline = Date().addingTimeInterval(grace)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
    }

    private func waitForEndpoint(dir: RunDirectory, server: Process) throws -> String {
        let deadline = Date().addingTimeInterval(max(60, topology.server.registrationTimeout))
        while Date() < deadline {
            if let text = try? String(contentsOfFile: dir.endpoint, encoding: .utf8), text.hasSuffix("\n") {
                return text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            if !server.isRunning {
                throw Failure(message: "aviary-server \(describe(server)) before listening; see \(dir.serverLog)\n\(tail(dir.serverLog))")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        stop(server)
        throw Failure(message: "aviary-server did not start listening within the registration timeout; see \(dir.serverLog)")
    }

    private func spawn(_ path: String, _ args: [String], log: String, passStdout: Bool) throws -> Process {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Failure(message: "cannot find \(path) (build with `swift build -c release`, or run from the build directory)")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardError = handle
        p.standardOutput = passStdout ? FileHandle.standardOutput : handle
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_NUM_THREADS"] = String(topology.processes.blasThreads)
        p.environment = env
        try p.run()
        return p
    }

    private func describe(_ p: Process) -> String {
        p.terminationReason == .uncaughtSignal ? "was killed by signal \(p.terminationStatus)" : "exited with status \(p.terminationStatus)"
    }

    private func tail(_ path: String, lines: Int = 8) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "" }
        let last = text.split(separator: "\n", omittingEmptySubsequences: true).suffix(lines)
        return last.isEmpty ? "" : last.map { "    | " + $0 }.joined(separator: "\n") + "\n"
    }
}

/// Children to stop on Ctrl-C. The signal handler only sets `interruptRequested`; the launcher
/// loop acts on it.
final class LaunchedProcesses: @unchecked Sendable {
    // @unchecked: all access to `processes` goes through `lock`.
    static let shared = LaunchedProcesses()
    private let lock = NSLock()
    private var processes: [Process] = []

    var interrupted: Bool { interruptRequested != 0 }
    func add(_ p: Process) { lock.withLock { processes.append(p) } }
    func terminateAll() {
        for p in lock.withLock({ processes }) where p.isRunning { p.terminate() }
    }
}
