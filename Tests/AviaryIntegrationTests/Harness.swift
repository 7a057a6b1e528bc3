import Foundation
import AviaryLog

/// Runs the built executables as real processes, the way users do.
enum Harness {
    /// The directory holding aviary, aviary-server and aviary-client from this build.
    static let binDirectory: String? = {
        var candidates: [String] = []
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<4 {  // the test bundle may sit inside .xctest/Contents/MacOS on other platforms
            candidates.append(dir.path)
            dir = dir.deletingLastPathComponent()
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates += [root.path + "/.build/release", root.path + "/.build/debug"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0 + "/aviary-server") }
    }()

    static func temporaryDirectory(_ name: String) -> String {
        let path = NSTemporaryDirectory() + "aviary-test-\(name)-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    struct Result {
        var status: Int32
        var output: String
    }

    /// Runs an executable to completion (bounded by `timeout`, then killed) and returns its output.
    static func run(_ tool: String, _ args: [String], timeout: Double = 300, environment: [String: String] = [:],
                    in directory: String? = nil, bin: String? = nil) throws -> Result {
        guard let bin = bin ?? binDirectory else { throw HarnessError.noBinaries }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin + "/" + tool)
        p.arguments = args
        if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { _, b in b }
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let collected = Collected()
        let reader = Thread { collected.set(out.fileHandleForReading.readDataToEndOfFile()) }
        reader.start()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if p.isRunning { p.terminate(); p.waitUntilExit(); throw HarnessError.timedOut(tool: tool, seconds: timeout) }
        p.waitUntilExit()
        while !collected.done { Thread.sleep(forTimeInterval: 0.01) }
        return Result(status: p.terminationStatus, output: String(decoding: collected.data, as: UTF8.self))
    }

    static func start(_ tool: String, _ args: [String], log: String, environment: [String: String] = [:]) throws -> Process {
        guard let bin = binDirectory else { throw HarnessError.noBinaries }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin + "/" + tool)
        p.arguments = args
        FileManager.default.createFile(atPath: log, contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardOutput = h
        p.standardError = h
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_NUM_THREADS"] = "1"
        env.merge(environment) { _, b in b }
        p.environment = env
        try p.run()
        return p
    }

    /// Starts `aviary-server` on `topology` and waits until it listens; returns the process and
    /// the endpoint it wrote to `<runDirectory>/endpoint` (nil endpoint: it never listened).
    static func startServer(topology: String, runDirectory: String, log: String) throws -> (Process, String?) {
        let server = try start("aviary-server", ["--topology", topology], log: log)
        let endpoint = waitForFile(runDirectory + "/endpoint", timeout: 30)?.trimmingCharacters(in: .whitespacesAndNewlines)
        return (server, endpoint)
    }

    static func waitForFile(_ path: String, timeout: Double) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let s = try? String(contentsOfFile: path, encoding: .utf8), s.hasSuffix("\n") { return s }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return nil
    }

    /// A small synthetic topology for tests; `extra` is appended verbatim.
    static func topology(name: String, output: String, clients: Int, rounds: Int, processes: Int,
                         roundTimeout: Double = 60, epochs: Int = 2, server: String = "", extra: String = "") -> String {
        """
        [run]
        name = "\(name)"
        rounds = \(rounds)
        output = "\(output)"

        [seeds]
        partition = 11
        sampling = 12
        training = 13

        [data]
        dataset = "synthetic"
        alpha = 1.0
        beta = 1.0
        clients = \(clients)

        [model]
        kind = "mlp"
        hidden = [32]

        [train]
        local_epochs = \(epochs)
        batch_size = 10
        learning_rate = 0.05

        [server]
        round_timeout = \(roundTimeout)
        registration_timeout = 60
        \(server)

        [processes]
        client_processes = \(processes)
        \(extra)
        """
    }
}

extension Harness {
    /// A bin directory with copies of aviary and aviary-server and `clientScript` as
    /// aviary-client (a shell script; `$REAL` in it is the real aviary-client). Copies, not
    /// symlinks: the launcher finds its siblings next to its resolved path.
    static func fakeBin(in dir: String, clientScript: String) throws -> String {
        guard let bin = binDirectory else { throw HarnessError.noBinaries }
        let fake = dir + "/bin"
        try FileManager.default.createDirectory(atPath: fake, withIntermediateDirectories: true)
        for tool in ["aviary", "aviary-server"] {
            try writeExecutable(Data(contentsOf: URL(fileURLWithPath: bin + "/" + tool)), to: fake + "/" + tool)
        }
        let script = "#!/bin/sh\nREAL='\(bin)/aviary-client'\n" + clientScript
        try writeExecutable(Data(script.utf8), to: fake + "/aviary-client")
        return fake
    }

    /// Writes an executable through a close-on-exec descriptor. Foundation's copy and write keep
    /// theirs inheritable, so a process another test spawns at that moment can hold the file open
    /// for writing for its whole life, and exec'ing the file then fails with ETXTBSY.
    static func writeExecutable(_ data: Data, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard fd >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
        defer { close(fd) }
        try data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
                done += n
            }
        }
    }

    /// Pids whose parent is `pid`, from /proc.
    static func children(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { parent(of: $0) == pid }
    }

    /// Field 4 of /proc/<pid>/stat (after the parenthesised command name, which may hold spaces).
    static func parent(of pid: Int32) -> Int32? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }

    /// True once `pid` no longer runs: `kill(pid, 0)` fails, or it is a zombie waiting for a
    /// reaper (in a container, pid 1 may never reap it).
    static func isGone(_ pid: Int32) -> Bool {
        if kill(pid, 0) != 0 { return true }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(after: close)...].split(separator: " ").first == "Z"
    }
}

enum HarnessError: Error, CustomStringConvertible {
    case noBinaries
    case timedOut(tool: String, seconds: Double)
    var description: String {
        switch self {
        case .noBinaries: "aviary executables not found next to the test bundle; build with `swift build` first"
        case let .timedOut(tool, seconds): "\(tool) did not finish within \(seconds) s"
        }
    }
}

final class Collected: @unchecked Sendable {
    // @unchecked: written once by the reader thread under the lock, read after `done`.
    private let lock = NSLock()
    private var _data = Data()
    private var _done = false
    func set(_ d: Data) { lock.withLock { _data = d; _done = true } }
    var done: Bool { lock.withLock { _done } }
    var data: Data { lock.withLock { _data } }
}
