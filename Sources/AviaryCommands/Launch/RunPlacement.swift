import Foundation
import AviaryLog
import AviaryTopology

/// Where a run goes: a fresh directory per run unless the user says otherwise, and the
/// topology of a run to resume. Nothing here touches an existing run's files.
enum RunPlacement {
    /// `--name` follows the same rule as `[run].name`: it names a directory under `output`.
    static func checkName(_ name: String) throws(LaunchError) {
        if let expected = Topology.nameProblem(name) { throw .badName(name: name, expected: expected) }
    }

    /// Claims `output/name`, or `name-2`, `name-3`, … when it exists. `mkdir` is the claim
    /// (it fails on an existing directory), so two launchers never share a directory and an
    /// existing run is never opened. Returns the name claimed.
    static func claimFresh(output: String, name: String) throws(LaunchError) -> String {
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        } catch {
            throw .cannotCreateRunDirectory(key: "[run].output", path: output, reason: ErrorReason.of(error))
        }
        for n in 1...10_000 {
            let candidate = n == 1 ? name : "\(name)-\(n)"
            if mkdir(output + "/" + candidate, 0o755) == 0 { return candidate }
            let code = errno
            guard code == EEXIST else {
                throw .cannotCreateRunDirectory(key: "[run].output", path: output + "/" + candidate, reason: posixReason(code))
            }
        }
        throw .cannotCreateRunDirectory(key: "[run].output", path: output + "/" + name, reason: "10,000 runs of this name exist already")
    }

    /// The topology a run directory was started with, pointed back at that directory: its
    /// output is the directory's parent and its name the directory's own name.
    static func resumable(_ path: String) throws -> Topology {
        var dir = path
        while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
        let run = RunDirectory(path: dir)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw LaunchError.notARun(path: dir, reason: "no such directory")
        }
        guard FileManager.default.fileExists(atPath: run.topology) else {
            throw LaunchError.notARun(path: dir, reason: "it has no topology.toml (the server writes it when a run starts)")
        }
        var topology = try Topology.load(path: run.topology)
        let url = URL(fileURLWithPath: dir)
        topology.name = url.lastPathComponent
        let parent = (dir as NSString).deletingLastPathComponent
        topology.output = parent.isEmpty ? "." : parent
        return topology
    }
}
