import Foundation
import AviaryLog

/// Every run under a runs directory, found by walking it (a run is a directory holding
/// `aggregation.jsonl`; sweep folders are searched below, at most `maxDepth` levels) and each
/// watched by a `WatchedRun`. Requests name runs by id only, and an id is looked up here, never
/// joined onto a path: nothing outside the directory can be asked for.
public struct RunCatalog: Sendable {
    public let root: String
    public private(set) var runs: [String: WatchedRun] = [:]

    /// Sweep folders nest runs one level down; deeper layouts still fit.
    public static let maxDepth = 3

    public init(root: String) throws(DashboardError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory) else { throw .noSuchDirectory(root) }
        guard isDirectory.boolValue else { throw .notADirectory(root) }
        var trimmed = root
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.root = trimmed
    }

    /// Run directories under `root`, as ids relative to it, sorted. `root` itself may be a run
    /// (its id is then its own name).
    public static func discover(root: String) -> [(id: String, directory: String)] {
        let fm = FileManager.default
        if fm.fileExists(atPath: RunDirectory(path: root).log) {
            return [((root as NSString).lastPathComponent, root)]
        }
        var found: [(id: String, directory: String)] = []
        func walk(_ dir: String, _ prefix: String, depth: Int) {
            guard depth <= maxDepth, let children = try? fm.contentsOfDirectory(atPath: dir) else { return }
            for child in children.sorted() where !child.hasPrefix(".") {
                let path = dir + "/" + child
                var isDirectory: ObjCBool = false
                // Symbolic links are not followed: the dashboard stays inside its directory.
                guard (try? fm.destinationOfSymbolicLink(atPath: path)) == nil,
                      fm.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
                let id = prefix.isEmpty ? child : prefix + "/" + child
                if fm.fileExists(atPath: RunDirectory(path: path).log) {
                    found.append((id, path))
                } else {
                    walk(path, id, depth: depth + 1)
                }
            }
        }
        walk(root, "", depth: 1)
        return found
    }

    /// Looks for new runs, reads what every run appended (every record of the runs in
    /// `detailed`), drops runs whose directory was removed, and returns the list.
    public mutating func refresh(detailed: Set<String> = [], now: Date = Date()) -> [RunRow] {
        let found = Self.discover(root: root)
        for (id, directory) in found where runs[id] == nil { runs[id] = WatchedRun(id: id, directory: directory) }
        let present = Set(found.map(\.id))
        for id in runs.keys where !present.contains(id) { runs[id] = nil }
        for id in runs.keys.sorted() {
            runs[id]!.refresh(keepRecords: detailed.contains(id))
            if runs[id]!.gone { runs[id] = nil }
        }
        return rows(now: now)
    }

    public func rows(now: Date = Date()) -> [RunRow] {
        runs.keys.sorted().map { id in
            let r = runs[id]!
            return RunRow(id: id, latest: r.latest, problems: r.problems, version: r.version, modified: r.modified, now: now)
        }
    }
}

/// Why the dashboard cannot start or cannot answer; each names what and where.
public enum DashboardError: Error, Equatable, CustomStringConvertible {
    case noSuchDirectory(String)
    case notADirectory(String)
    case portInUse(host: String, port: Int)
    case cannotBind(host: String, port: Int, reason: String)
    /// A request named a run the catalog does not hold (never was, or its directory was removed).
    case unknownRun(String)

    public var description: String {
        switch self {
        case let .noSuchDirectory(path): "\(path): no such directory (runs are written to runs/<name>/; pass the directory that holds them)"
        case let .notADirectory(path): "\(path) is not a directory (pass the directory that holds run directories)"
        case let .portInUse(host, port): "port \(port) on \(host) is in use by another program; pass another --port (or --port 0 for any free one)"
        case let .cannotBind(host, port, reason): "cannot listen on \(host):\(port): \(reason)"
        case let .unknownRun(id): "no run '\(id)' under the dashboard's runs directory (removed, or never there)"
        }
    }
}
