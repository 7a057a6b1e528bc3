/// The result of a partitioner: which sample indices each client holds.
///
/// Invariant: every index in `0..<sampleCount` appears at most once across all clients, and
/// `assigned + dropped == sampleCount`.
public struct Partition: Sendable, Hashable, Codable {
    /// Sample indices per client, in a deterministic order.
    public var clientIndices: [[Int]]
    /// Samples no client received (e.g. the remainder of equal shards).
    public var dropped: Int
    /// Human-readable remarks, e.g. fallbacks taken; the server logs them.
    public var notes: [String]

    public init(clientIndices: [[Int]], dropped: Int, notes: [String] = []) {
        self.clientIndices = clientIndices
        self.dropped = dropped
        self.notes = notes
    }

    /// Builds a partition over `sampleCount` samples, counting unassigned ones as dropped.
    init(clientIndices: [[Int]], sampleCount: Int, notes: [String] = []) {
        let assigned = clientIndices.reduce(0) { $0 + $1.count }
        self.init(clientIndices: clientIndices, dropped: sampleCount - assigned, notes: notes)
    }

    /// Number of clients.
    public var clients: Int { clientIndices.count }

    /// Samples per client.
    public var sizes: [Int] { clientIndices.map(\.count) }
}

/// Why a partition cannot be built with the given parameters.
public enum PartitionError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A parameter is out of its valid range; `problem` says which and what is allowed.
    case invalidParameter(partitioner: String, problem: String)
    /// There are too few samples (or classes, or owners) for the request.
    case notEnoughSamples(partitioner: String, available: Int, needed: Int, what: String)
    /// The natural partition needs per-sample owners, which this dataset lacks.
    case missingOwners(dataset: String)
    /// A client index outside `0..<clients` was requested.
    case clientOutOfRange(index: Int, clients: Int)

    public var description: String {
        switch self {
        case .invalidParameter(let partitioner, let problem):
            return "\(partitioner) partition: \(problem)"
        case .notEnoughSamples(let partitioner, let available, let needed, let what):
            return "\(partitioner) partition needs \(needed) \(what) but only \(available) are available; use fewer clients or a larger dataset"
        case .missingOwners(let dataset):
            return "natural partition needs an owner per sample but \(dataset) has none; set an owner column or choose another partition"
        case .clientOutOfRange(let index, let clients):
            return "client \(index) does not exist: the federation has clients 0..<\(clients)"
        }
    }
}

/// Helpers shared by the partitioners.
enum PartitionSupport {
    /// Sample indices grouped by label (each group in ascending order).
    static func indicesByClass(_ labels: [Int32], classes: Int) -> [[Int]] {
        var groups = [[Int]](repeating: [], count: classes)
        for (i, l) in labels.enumerated() where l >= 0 && Int(l) < classes { groups[Int(l)].append(i) }
        return groups
    }

    /// Cuts `items` into consecutive pieces of the given sizes (sum must not exceed the count).
    static func split(_ items: [Int], sizes: [Int]) -> [[Int]] {
        var out: [[Int]] = []
        out.reserveCapacity(sizes.count)
        var start = 0
        for s in sizes {
            out.append(Array(items[start..<(start + s)]))
            start += s
        }
        return out
    }

    /// Sizes differing by at most one that sum to `total` (larger ones first), like numpy.array_split.
    static func balancedSizes(total: Int, parts: Int) -> [Int] {
        (0..<parts).map { total / parts + ($0 < total % parts ? 1 : 0) }
    }

    static func requireClients(_ clients: Int, _ name: String) throws {
        guard clients > 0 else {
            throw PartitionError.invalidParameter(partitioner: name, problem: "clients must be at least 1, got \(clients)")
        }
    }
}
