import Foundation

/// A single-node Slurm cluster for tests (root only): munged (started only if it is not already
/// running), then slurmctld and slurmd from a slurm.conf in a temporary directory, with their
/// state, spool, logs and pid files there and non-default ports. `stop()` stops every daemon
/// it started, by pid file, and leaves a munged it found running alone.
final class SlurmCluster {
    static let slurmctld = "/usr/sbin/slurmctld"
    static let slurmd = "/usr/sbin/slurmd"
    static let sbatch = "/usr/bin/sbatch"
    static let scontrol = "/usr/bin/scontrol"
    static let scancel = "/usr/bin/scancel"
    static let munged = "/usr/sbin/munged"
    static let mungePidFile = "/run/munge/munged.pid"
    static var installed: Bool {
        [slurmctld, slurmd, sbatch, scontrol, scancel, munged].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
    }

    let dir: String
    let conf: String
    let node: String
    private var startedMunge = false
    private var daemonPidFiles: [String] = []
    private var jobs: [String] = []

    init() throws {
        dir = Harness.temporaryDirectory("slurm")
        conf = dir + "/slurm.conf"
        node = try Self.run("/bin/hostname", ["-s"]).trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            try startMungeIfNeeded()
            try writeConfiguration()
            for daemon in [Self.slurmctld, Self.slurmd] {
                daemonPidFiles.append(dir + "/" + URL(fileURLWithPath: daemon).lastPathComponent + ".pid")
                try Self.startDaemon(daemon, ["-f", conf], log: dir + "/start.out")
            }
            try waitUntilIdle()
        } catch {
            stop()
            throw error
        }
    }

    deinit { stop() }

    var environment: [String: String] { ["SLURM_CONF": conf] }

    private func startMungeIfNeeded() throws {
        if let pid = Self.pid(in: Self.mungePidFile), Self.isRunning(pid, named: "munged") { return }
        let fm = FileManager.default
        if !fm.fileExists(atPath: "/etc/munge/munge.key") {
            var key = [UInt8](repeating: 0, count: 1024)
            for i in key.indices { key[i] = UInt8.random(in: 0...255) }
            fm.createFile(atPath: "/etc/munge/munge.key", contents: Data(key), attributes: [.posixPermissions: 0o400])
            try Self.run("/bin/chown", ["munge:munge", "/etc/munge/munge.key"])
        }
        try fm.createDirectory(atPath: "/run/munge", withIntermediateDirectories: true)
        try Self.run("/bin/chown", ["munge:munge", "/run/munge"])
        try Self.startDaemon("/usr/sbin/runuser", ["-u", "munge", "--", Self.munged], log: dir + "/start.out")
        startedMunge = true
    }

    private func writeConfiguration() throws {
        for sub in ["state", "spool"] { try FileManager.default.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true) }
        // Free ports rather than Slurm's 6817/6818, so a real Slurm on this machine is not disturbed.
        let controllerPort = try Self.freePort()
        var nodePort = try Self.freePort()
        while nodePort == controllerPort { nodePort = try Self.freePort() }
        let memoryMiB = max(512, Self.memTotalKiB() / 1024 / 2)
        let text = """
            ClusterName=aviarytest
            SlurmctldHost=\(node)
            SlurmUser=root
            SlurmdUser=root
            SlurmctldPort=\(controllerPort)
            SlurmdPort=\(nodePort)
            AuthType=auth/munge
            ProctrackType=proctrack/linuxproc
            TaskPlugin=task/none
            SelectType=select/cons_tres
            SelectTypeParameters=CR_Core
            ReturnToService=2
            StateSaveLocation=\(dir)/state
            SlurmdSpoolDir=\(dir)/spool
            SlurmctldPidFile=\(dir)/slurmctld.pid
            SlurmdPidFile=\(dir)/slurmd.pid
            SlurmctldLogFile=\(dir)/slurmctld.log
            SlurmdLogFile=\(dir)/slurmd.log
            NodeName=\(node) CPUs=2 RealMemory=\(memoryMiB) State=UNKNOWN
            PartitionName=test Nodes=\(node) Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4

            """
        try text.write(toFile: conf, atomically: true, encoding: .utf8)
    }

    private func waitUntilIdle() throws {
        let deadline = Date().addingTimeInterval(30)
        var last = ""
        while Date() < deadline {
            last = (try? scontrol(["show", "node", node])) ?? last
            if last.contains("State=IDLE") { return }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw SlurmError.notReady(node: node, state: last, logs: dir)
    }

    func scontrol(_ args: [String]) throws -> String {
        try Self.run(Self.scontrol, args, environment: environment)
    }

    /// Submits `script`; returns the job id.
    func submit(_ script: String, _ args: [String], environment extra: [String: String]) throws -> String {
        let out = try Self.run(Self.sbatch, ["--parsable"] + args + [script], environment: environment.merging(extra) { _, b in b })
        let id = String(out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first ?? "")
        jobs.append(id)
        return id
    }

    /// Polls `scontrol show job` until the job leaves PENDING/RUNNING/COMPLETING; returns its state.
    func wait(forJob id: String, timeout: Double) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var state = "unknown"
        while Date() < deadline {
            let text = (try? scontrol(["show", "job", id])) ?? ""
            if let field = text.split(whereSeparator: \.isWhitespace).first(where: { $0.hasPrefix("JobState=") }) {
                state = String(field.dropFirst("JobState=".count))
                if !["PENDING", "RUNNING", "COMPLETING", "CONFIGURING"].contains(state) { return state }
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw SlurmError.jobTimedOut(id: id, state: state, seconds: timeout)
    }

    /// Cancels jobs still running, stops the daemons this cluster started (SIGTERM, then SIGKILL
    /// after 10 s), and munged only if this cluster started it. Idempotent.
    func stop() {
        for id in jobs { _ = try? Self.run(Self.scancel, [id], environment: environment) }
        jobs = []
        var files = daemonPidFiles.reversed().map { $0 }
        daemonPidFiles = []
        if startedMunge { files.append(Self.mungePidFile); startedMunge = false }
        for file in files {
            guard let pid = Self.pid(in: file) else { continue }
            kill(pid, SIGTERM)
            let deadline = Date().addingTimeInterval(10)
            while !Harness.isGone(pid) && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if !Harness.isGone(pid) { kill(pid, SIGKILL) }
        }
    }

    /// A TCP port nothing listens on now: the kernel's pick for port 0 on a socket closed again.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SlurmError.noPort(errno: errno) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = 0
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw SlurmError.noPort(errno: errno) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func pid(in file: String) -> Int32? {
        (try? String(contentsOfFile: file, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    static func isRunning(_ pid: Int32, named name: String) -> Bool {
        guard !Harness.isGone(pid), let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8) else { return false }
        return comm.trimmingCharacters(in: .whitespacesAndNewlines) == name
    }

    static func memTotalKiB() -> Int {
        let text = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix("MemTotal:") } ?? ""
        return Int(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") ?? 1_048_576
    }

    /// Runs a daemon's start command (it returns once the daemon forked), with a clean signal
    /// mask so the daemon answers SIGTERM; its output is appended to `log`.
    static func startDaemon(_ tool: String, _ args: [String], log: String) throws {
        let r = try Spawn.run([tool] + args)
        if !FileManager.default.fileExists(atPath: log) { FileManager.default.createFile(atPath: log, contents: nil) }
        if let h = FileHandle(forWritingAtPath: log) { h.seekToEndOfFile(); h.write(Data(r.output.utf8)); try? h.close() }
        guard r.status == 0 else { throw SpawnError.failed(([tool] + args).joined(separator: " "), status: r.status, output: r.output) }
    }

    @discardableResult
    static func run(_ tool: String, _ args: [String], environment: [String: String] = [:]) throws -> String {
        try Spawn.check([tool] + args, environment: environment)
    }
}

enum SlurmError: Error, CustomStringConvertible {
    case notReady(node: String, state: String, logs: String)
    case noPort(errno: Int32)
    case jobTimedOut(id: String, state: String, seconds: Double)
    var description: String {
        switch self {
        case let .noPort(e): "no free TCP port: \(String(cString: strerror(e)))"
        case let .notReady(node, state, logs): "node \(node) never became idle (logs in \(logs)): \(state)"
        case let .jobTimedOut(id, state, seconds): "job \(id) still \(state) after \(seconds) s"
        }
    }
}
