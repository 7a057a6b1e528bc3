import ArgumentParser
import Foundation
import Logging
import AviaryClient
import AviaryTransport

/// `aviary-client` (also `aviary client`): hosts one or more clients in one process.
public struct ClientCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: standaloneName("aviary-client", subcommand: "client"),
        abstract: "Run federated clients that connect to a server.",
        discussion: """
        Which clients to host: --clients 0-99,200 (an explicit list), --shard I/N --of C (every index
        i < C with i ≡ I mod N: the share `aviary run` gives process I of N), or --count K (the
        server assigns K free indices).
        """,
        version: BuildInfo.versionLine)

    @Option(help: "Server endpoint, e.g. tcp://10.0.0.5:5555.")
    var connect: String

    @Option(help: "Client indices to host: a list with ranges, e.g. 0,4,8 or 0-99,200.")
    var clients: String?

    @Option(help: ArgumentHelp("Host share I of N of the clients (indices ≡ I mod N); needs --of.", valueName: "I/N"))
    var shard: String?

    @Option(name: .customLong("of"), help: ArgumentHelp("The topology's client count, for --shard.", valueName: "clients"))
    var clientsTotal: Int?

    @Option(help: "How many server-assigned clients to host when neither --clients nor --shard is given.")
    var count: Int = 1

    @Option(help: "Name shown in the server's log.")
    var name: String = ProcessInfo.processInfo.hostName

    @Option(help: "Seconds of server silence before giving up.")
    var serverTimeout: Double = 120

    @Option(help: ArgumentHelp("CURVE: this process's secret key file (aviary keygen); needs --server-public.", valueName: "file"))
    var curveSecret: String?

    @Option(help: ArgumentHelp("CURVE: the server's public key file (server.public from aviary keygen).", valueName: "file"))
    var serverPublic: String?

    @Option(help: "Client indices to leave out of the --shard share (aviary run hosts attackers elsewhere).")
    var exclude: String?

    @OptionGroup var byzantine: ByzantineOptions

    @Option(help: ArgumentHelp("""
        Directory for state that must outlive this process: top-k error-feedback residuals, one \
        subdirectory per run (aviary run uses <run>/client-state). Without it they are kept in memory.
        """, valueName: "dir"))
    var stateDir: String?

    public init() {}

    /// The `I/N` of `--shard`, checked: N ≥ 1 and I in 0..<N.
    static func parseShard(_ text: String) throws -> (index: Int, of: Int) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw ValidationError("--shard: '\(text)' is not I/N; e.g. --shard 0/8 hosts clients 0, 8, 16, …")
        }
        guard n >= 1 else { throw ValidationError("--shard \(text): N must be at least 1") }
        guard (0..<n).contains(i) else { throw ValidationError("--shard \(text): I must be in 0..<\(n) (0…\(n - 1))") }
        return (i, n)
    }

    public func validate() throws {
        if clients != nil && shard != nil { throw ValidationError("give either --clients or --shard, not both") }
        if let clients {
            do { _ = try ClientSet.parse(clients) } catch { throw ValidationError("--clients: \(error)") }
        }
        if let shard {
            let (i, n) = try Self.parseShard(shard)
            guard let total = clientsTotal else {
                throw ValidationError("--shard needs --of <clients>, the topology's client count (e.g. --shard \(shard) --of 1000)")
            }
            guard total >= 1 else { throw ValidationError("--of \(total): the topology has at least 1 client") }
            guard i < total else {
                throw ValidationError("--shard \(shard) --of \(total): share \(i) is empty (clients are 0..<\(total)); use at most \(total) shares")
            }
            let size = ClientSet.shardSize(i, of: n, clients: total)
            guard size <= ClientSet.maxHosted else {
                throw ValidationError("--shard \(shard) --of \(total): share \(i) has \(ClientSet.grouped(size)) clients; one process hosts "
                    + "at most \(ClientSet.grouped(ClientSet.maxHosted)) (the protocol's limit on claims in one HELLO); use more shares")
            }
        } else if clientsTotal != nil {
            throw ValidationError("--of only goes with --shard")
        }
        guard count >= 1 else { throw ValidationError("--count must be at least 1") }
        guard count <= ClientSet.maxHosted else {
            throw ValidationError("--count \(count): one process hosts at most \(ClientSet.grouped(ClientSet.maxHosted)) clients "
                + "(the protocol's limit on claims in one HELLO)")
        }
        guard serverTimeout.isFinite, serverTimeout > 0 else {
            throw ValidationError("--server-timeout \(serverTimeout): give a positive number of seconds, e.g. 120")
        }
        if (curveSecret == nil) != (serverPublic == nil) {
            throw ValidationError("--curve-secret and --server-public go together: this process's secret key and the server's public key")
        }

        if let exclude {
            guard shard != nil else { throw ValidationError("--exclude only goes with --shard") }
            // Ranges, never expanded: excluding 0-9223372036854775807 is allowed (and leaves nothing).
            do { _ = try ClientSet.ranges(exclude) } catch { throw ValidationError("--exclude: \(error)") }
        }
        _ = try byzantine.attack()
    }

    public func run() throws {
        dieWithLauncher()
        let indices: [Int?]
        if let clients {
            indices = try ClientSet.parse(clients)
        } else if let shard, let total = clientsTotal {
            let (i, n) = try Self.parseShard(shard)
            let excluded = ClientSet.merged(try exclude.map { try ClientSet.ranges($0) } ?? [])
            indices = ClientSet.shard(i, of: n, clients: total).filter { !ClientSet.contains(excluded, $0) }
            guard !indices.isEmpty else { throw ValidationError("--shard \(shard) --of \(total) --exclude leaves no client to host") }
        } else {
            indices = Array(repeating: nil, count: count)
        }
        var curve: ClientCurve?
        if let curveSecret, let serverPublic {
            do {
                curve = ClientCurve(client: try CurveKeyFile.readSecret(curveSecret), serverPublicKey: try CurveKeyFile.readPublic(serverPublic))
            } catch { throw fail(error) }
        }
        installInterruptHandler()
        let host = ClientHost(options: .init(endpoint: connect, indices: indices, name: name, serverTimeout: serverTimeout,
                                             shouldStop: interrupted, curve: curve, byzantine: try byzantine.attack(),
                                             stateDirectory: stateDir),
                              logger: Logger(label: "aviary.client"))
        do { try host.run() } catch { throw fail(error) }
    }
}
