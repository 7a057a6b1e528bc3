import Foundation
import AviaryServer

/// Resident memory of the launched processes, sampled while they run (Linux `/proc`): what a
/// simulation of N clients costs, reported at the end of `aviary run`.
struct ProcessMemory {
    private(set) var serverPeak = 0
    /// Largest sum over the client processes at one sampling instant.
    private(set) var clientsPeak = 0
    private(set) var samples = 0

    mutating func sample(server: Process, clients: [Process]) {
        if server.isRunning, let s = ResidentMemory.bytes(pid: server.processIdentifier) { serverPeak = max(serverPeak, s) }
        let total = clients.filter(\.isRunning).compactMap { ResidentMemory.bytes(pid: $0.processIdentifier) }.reduce(0, +)
        clientsPeak = max(clientsPeak, total)
        samples += 1
    }

    var summary: String? {
        guard samples > 0, serverPeak > 0 else { return nil }
        return String(format: "peak memory: server %.0f MB, client processes together %.0f MB",
                      Double(serverPeak) / 1e6, Double(clientsPeak) / 1e6)
    }
}
