import Foundation

/// Resident memory of the launched processes, sampled while they run (Linux `/proc`): what a
/// simulation of N clients costs, reported at the end of `aviary run`.
struct ProcessMemory {
    private(set) var serverPeak = 0
    /// Largest sum over the client processes at one sampling instant.
    private(set) var clientsPeak = 0
    private(set) var samples = 0

    private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Resident bytes of `pid`, or nil where `/proc` is unavailable or the process is gone.
    static func residentBytes(_ pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * pageSize
    }

    mutating func sample(server: Process, clients: [Process]) {
        if server.isRunning, let s = Self.residentBytes(server.processIdentifier) { serverPeak = max(serverPeak, s) }
        let total = clients.filter(\.isRunning).compactMap { Self.residentBytes($0.processIdentifier) }.reduce(0, +)
        clientsPeak = max(clientsPeak, total)
        samples += 1
    }

    var summary: String? {
        guard samples > 0, serverPeak > 0 else { return nil }
        return String(format: "peak memory: server %.0f MB, client processes together %.0f MB",
                      Double(serverPeak) / 1e6, Double(clientsPeak) / 1e6)
    }
}
