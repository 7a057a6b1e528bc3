import AviaryProtocol

/// Where a client process keeps its top-k clients' error-feedback residuals between rounds:
/// one vector per (client, round trained, server generation). `ResidualHistory` decides which
/// version a round uses and which may go; a store only keeps them.
///
/// Two kinds: `DirectoryResidualStore` (files in the process's `--state-dir`: nothing in memory
/// between rounds, survives restarts; what `aviary run` uses) and `MemoryResidualStore` (its
/// in-memory twin: tests, and hand-started processes without a state directory).
protocol ResidualStore: AnyObject {
    /// The versions stored for `client`, any order.
    func versions(client: Int) throws(ResidualStoreError) -> [ResidualHistory.Version]
    func load(client: Int, version: ResidualHistory.Version, count: Int) throws(ResidualStoreError) -> [Float]
    func save(client: Int, version: ResidualHistory.Version, residual: [Float]) throws(ResidualStoreError)
    func delete(client: Int, version: ResidualHistory.Version) throws(ResidualStoreError)
    /// Every client with a stored version (any order): what an earlier process left here.
    func clients() throws(ResidualStoreError) -> [Int]
}

/// A residual that cannot be read or written, with the file (or "memory") and why.
public enum ResidualStoreError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case unwritable(path: String, reason: String)
    case mismatch(path: String, field: String, expected: String, found: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): "error-feedback residual \(path) cannot be read: \(reason)"
        case let .unwritable(path, reason): "error-feedback residual \(path) cannot be written: \(reason)"
        case let .mismatch(path, field, expected, found):
            "error-feedback residual \(path) does not belong here: \(field) is \(found), expected \(expected)"
        }
    }
}

/// The in-memory twin of `DirectoryResidualStore`: the same versions, kept as arrays. A
/// restarted process starts with none.
final class MemoryResidualStore: ResidualStore {
    private var stored: [Int: [ResidualHistory.Version: [Float]]] = [:]

    /// Floats held, for tests and the process's memory line.
    var floatCount: Int { stored.values.reduce(0) { $0 + $1.values.reduce(0) { $0 + $1.count } } }

    func versions(client: Int) -> [ResidualHistory.Version] { Array(stored[client, default: [:]].keys) }

    func clients() -> [Int] { Array(stored.keys) }

    func load(client: Int, version: ResidualHistory.Version, count: Int) throws(ResidualStoreError) -> [Float] {
        guard let r = stored[client]?[version] else {
            throw .unreadable(path: "memory: client \(client) \(version)", reason: "not stored")
        }
        guard r.count == count else {
            throw .mismatch(path: "memory: client \(client) \(version)", field: "length", expected: "\(count)", found: "\(r.count)")
        }
        return r
    }

    func save(client: Int, version: ResidualHistory.Version, residual: [Float]) {
        stored[client, default: [:]][version] = residual
    }

    func delete(client: Int, version: ResidualHistory.Version) {
        stored[client]?[version] = nil
        if stored[client]?.isEmpty == true { stored[client] = nil }
    }
}
