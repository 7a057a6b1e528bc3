import Foundation

/// Resources/delay_relay.py run on one host of a NamespaceNetwork: a userspace TCP relay that
/// holds every chunk it forwards for `delay ± jitter` ms in each direction, keeping order. It
/// stands in for netem's delay and jitter on kernels without sch_netem; clients connect to the
/// relay's host instead of the server's, so their traffic crosses the switch twice.
final class DelayRelay {
    static let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
    /// The script sits next to this file in the source tree (the package excludes it from the target).
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Resources/delay_relay.py"

    /// What the relay accounted for (its `--stats` JSON): delays in milliseconds.
    struct Stats: Decodable {
        /// Connections accepted and joined to the target (not those refused by a gone target).
        var connections: Int
        var chunks: Int
        var bytes: Int
        /// Mean of the scheduled holds: each in [delay - jitter, delay + jitter] by construction.
        var meanDelayMs: Double
        var minDelayMs: Double
        var maxDelayMs: Double
        /// Mean measured time from reading a chunk to writing it (scheduled hold plus lag).
        var meanHeldMs: Double

        enum CodingKeys: String, CodingKey {
            case connections, chunks, bytes
            case meanDelayMs = "mean_delay_ms", minDelayMs = "min_delay_ms", maxDelayMs = "max_delay_ms"
            case meanHeldMs = "mean_held_ms"
        }
    }

    let process: Process
    let statsPath: String

    /// Starts the relay on `host`, listening on `port` of its address and forwarding to `target`
    /// ("address:port"); its output goes to `log`.
    init(on host: String, in net: NamespaceNetwork, port: Int, target: String,
         delayMs: Double, jitterMs: Double, seed: Int, directory: String) throws {
        guard let python = Self.python else { throw DelayRelayError.noPython }
        statsPath = directory + "/relay-stats.json"
        let command = try net.command(on: host, python, [
            "-u", Self.script,
            "--listen", "\(try net.host(host).address):\(port)", "--target", target,
            "--delay-ms", "\(delayMs)", "--jitter-ms", "\(jitterMs)", "--seed", "\(seed)", "--stats", statsPath,
        ])
        let p = Process()
        p.executableURL = URL(fileURLWithPath: command.0)
        p.arguments = command.1
        let log = directory + "/relay.out"
        FileManager.default.createFile(atPath: log, contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardOutput = h
        p.standardError = h
        try p.run()
        process = p
    }

    /// Whether the relay is listening (it writes its stats file once bound), within `timeout` s.
    func waitUntilListening(timeout: TimeInterval) -> Bool {
        Harness.waitForFile(statsPath, timeout: timeout) != nil
    }

    /// Stops the relay (SIGTERM: it writes its final accounting) and returns that accounting.
    func stop() throws -> Stats {
        if process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }  // the file is at most 0.5 s stale
        return try JSONDecoder().decode(Stats.self, from: Data(contentsOf: URL(fileURLWithPath: statsPath)))
    }

    deinit { if process.isRunning { process.terminate() } }
}

enum DelayRelayError: Error, CustomStringConvertible {
    case noPython
    var description: String { "python3 is not installed (the delay relay is a Python script)" }
}
