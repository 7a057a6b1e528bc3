import Foundation

/// A throwaway network of Linux network namespaces for tests (iproute2, root only): one
/// namespace holds a bridge, the "switch", and every host gets its own namespace joined to it
/// by a veth pair (`eth0` in the host, `p-<host>` on the switch). Nothing is created in the
/// caller's namespace, so the test's traffic never leaves the namespaces it made; deleting them
/// deletes the veths too.
final class NamespaceNetwork {
    static let prefix = "aviary-mh-"
    static let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let tc = ["/usr/sbin/tc", "/sbin/tc", "/usr/bin/tc"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let nft = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static var isRoot: Bool { getuid() == 0 }

    struct Host {
        var namespace: String
        var address: String
        var switchPort: String
    }

    let id: String
    let switchNamespace: String
    private(set) var hosts: [String: Host] = [:]
    private var namespaces: [String] = []

    /// Creates the switch and one namespace per name in `hosts`, addressed 10.213.0.1, .2, … /24.
    init(hosts names: [String], tag: String = "net") throws {
        id = Self.prefix + "\(getpid())-\(tag)"
        switchNamespace = id + "-sw"
        do {
            try add(namespace: switchNamespace)
            try Self.runIP(["-n", switchNamespace, "link", "add", "br0", "type", "bridge"])
            try Self.runIP(["-n", switchNamespace, "link", "set", "br0", "up"])
            for (i, name) in names.enumerated() {
                let ns = id + "-" + name
                let port = "p-" + name
                let address = "10.213.0.\(i + 1)"
                try add(namespace: ns)
                try Self.runIP(["-n", switchNamespace, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns])
                try Self.runIP(["-n", switchNamespace, "link", "set", port, "master", "br0"])
                try Self.runIP(["-n", switchNamespace, "link", "set", port, "up"])
                try Self.runIP(["-n", ns, "addr", "add", address + "/24", "dev", "eth0"])
                try Self.runIP(["-n", ns, "link", "set", "eth0", "up"])
                hosts[name] = Host(namespace: ns, address: address, switchPort: port)
            }
        } catch {
            destroy()
            throw error
        }
    }

    private func add(namespace: String) throws {
        try Self.runIP(["netns", "add", namespace])
        namespaces.append(namespace)
        try Self.runIP(["-n", namespace, "link", "set", "lo", "up"])
    }

    func host(_ name: String) throws -> Host {
        guard let h = hosts[name] else { throw NamespaceError.noHost(name) }
        return h
    }

    /// `ip netns exec NS tool args…`: `ip` execs the tool in place, so the Process's pid is the tool's.
    func command(on name: String, _ executable: String, _ args: [String]) throws -> (String, [String]) {
        guard let ip = Self.ip else { throw NamespaceError.noIproute2 }
        return (ip, ["netns", "exec", try host(name).namespace, executable] + args)
    }

    /// netem on both ends of every link, so each direction gets the delay, jitter and loss.
    func netem(_ spec: [String]) throws {
        for h in hosts.values {
            try Self.runTC(["-n", h.namespace, "qdisc", "add", "dev", "eth0", "root", "netem"] + spec)
            try Self.runTC(["-n", switchNamespace, "qdisc", "add", "dev", h.switchPort, "root", "netem"] + spec)
        }
    }

    /// Drops `percent` % of the frames the switch forwards, at random (nftables in the switch's
    /// namespace): loss without sch_netem.
    func randomLoss(percent: Int) throws {
        guard let ip = Self.ip, let nft = Self.nft else { throw NamespaceError.noIproute2 }
        let rules = "table bridge aviary {\n chain forward {\n  type filter hook forward priority 0;\n  numgen random mod 100 < \(percent) drop\n }\n}\n"
        try Self.run(ip, ["netns", "exec", switchNamespace, nft, "-f", "-"], input: rules)
    }

    /// Pulls `name`'s cable out of the switch (the host's own interface stays up), or plugs it back.
    func setLink(_ name: String, up: Bool) throws {
        try Self.runIP(["-n", switchNamespace, "link", "set", try host(name).switchPort, up ? "up" : "down"])
    }

    /// Kills whatever still runs in the namespaces, then deletes them (their veths go with them).
    func destroy() {
        for ns in namespaces.reversed() { Self.remove(namespace: ns) }
        namespaces = []
    }

    deinit { destroy() }

    static func remove(namespace: String) {
        guard let ip else { return }
        if let pids = try? run(ip, ["netns", "pids", namespace]) {
            for pid in pids.split(whereSeparator: \.isWhitespace).compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
        }
        _ = try? run(ip, ["netns", "del", namespace])
    }

    /// Removes namespaces left by earlier test processes that died before cleaning up (their pid
    /// is in the name); those of a test process still running are left alone.
    static func removeStale() {
        guard let ip, let list = try? run(ip, ["netns", "list"]) else { return }
        for line in list.split(separator: "\n") {
            let name = String(line.split(separator: " ").first ?? "")
            guard name.hasPrefix(prefix),
                  let pid = Int32(name.dropFirst(prefix.count).prefix { $0.isNumber }),
                  pid != getpid(), kill(pid, 0) != 0 else { continue }
            remove(namespace: name)
        }
    }

    /// Whether this kernel has sch_netem: tried on a veth in a throwaway namespace.
    static let netemAvailable: Bool = {
        guard NamespaceNetwork.isRoot, NamespaceNetwork.ip != nil, NamespaceNetwork.tc != nil else { return false }
        let ns = NamespaceNetwork.prefix + "\(getpid())-probe"
        defer { NamespaceNetwork.remove(namespace: ns) }
        do {
            try NamespaceNetwork.runIP(["netns", "add", ns])
            try NamespaceNetwork.runIP(["-n", ns, "link", "add", "a", "type", "veth", "peer", "name", "b"])
            try NamespaceNetwork.runTC(["-n", ns, "qdisc", "add", "dev", "a", "root", "netem", "delay", "1ms"])
            return true
        } catch { return false }
    }()

    static func runIP(_ args: [String]) throws {
        guard let ip else { throw NamespaceError.noIproute2 }
        try run(ip, args)
    }

    static func runTC(_ args: [String]) throws {
        guard let tc else { throw NamespaceError.noIproute2 }
        try run(tc, args)
    }

    @discardableResult
    static func run(_ tool: String, _ args: [String], input: String? = nil) throws -> String {
        try Spawn.check([tool] + args, input: input)
    }
}

enum NamespaceError: Error, CustomStringConvertible {
    case noIproute2
    case noHost(String)
    var description: String {
        switch self {
        case .noIproute2: "iproute2 (ip, tc) or nftables is not installed"
        case let .noHost(name): "no host \(name) in this network"
        }
    }
}
