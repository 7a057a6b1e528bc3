import ArgumentParser
import Foundation
import AviaryTransport

/// `aviary keygen`: CURVE key pairs for running a federation across machines.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write CURVE key pairs (NAME.secret, mode 0600, and NAME.public) for encrypted, authenticated runs.",
        discussion: """
        aviary keygen --dir keys alice bob
          writes keys/alice.secret, keys/alice.public, keys/bob.*
        aviary keygen --dir keys --processes 3 --clients 30
          writes keys/server.*, keys/client-0.* … keys/client-2.* and
          keys/allowed.txt, binding client-I's key to the clients of
          aviary-client --shard I/3 --of 30.
        Then start the server with --curve-secret keys/server.secret
        --allow keys/allowed.txt, and client I with --curve-secret
        keys/client-I.secret --server-public keys/server.public.
        Existing key files are never replaced unless --force.
        """)

    @Option(help: "Directory for the key files (created with mode 0700 if missing).")
    var dir: String

    @Option(help: "Write server and client-0 … client-(N-1) keys and allowed.txt for N client processes.")
    var processes: Int?

    @Option(help: ArgumentHelp("The topology's client count, for --processes.", valueName: "clients"))
    var clients: Int?

    @Flag(help: "Replace existing key files.")
    var force = false

    @Argument(help: "Names of key pairs to write (NAME.secret and NAME.public).")
    var names: [String] = []

    func validate() throws {
        if processes != nil || clients != nil {
            guard let processes, let clients else { throw ValidationError("--processes and --clients go together") }
            guard names.isEmpty else { throw ValidationError("give either NAMEs or --processes/--clients, not both") }
            guard processes >= 1, clients >= 1 else { throw ValidationError("--processes and --clients must be at least 1") }
            guard processes <= clients else {
                throw ValidationError("--processes \(processes) --clients \(clients): every process needs at least one client")
            }
        } else if names.isEmpty {
            throw ValidationError("name the key pairs to write (aviary keygen --dir keys alice bob), or give --processes N --clients C")
        }
        for name in names where name.isEmpty || !name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) || name.hasPrefix(".") {
            throw ValidationError("'\(name)' cannot name a key file; use letters, digits, '-', '_' or '.'")
        }
        guard Set(names).count == names.count else { throw ValidationError("a name is given twice") }
    }

    func run() throws {
        do {
            if let processes, let clients {
                try CurveKeyFile.writeFederation(in: dir, processes: processes, clients: clients, force: force)
                say("wrote \(dir)/server.{secret,public}, client-0 … client-\(processes - 1) and \(dir)/allowed.txt")
                say("server:  aviary-server --curve-secret \(dir)/server.secret --allow \(dir)/allowed.txt …")
                say("client I: aviary-client --curve-secret \(dir)/client-I.secret --server-public \(dir)/server.public --shard I/\(processes) --of \(clients) …")
            } else {
                let pairs = try CurveKeyFile.writePairs(names, in: dir, force: force)
                say("wrote " + names.map { "\(dir)/\($0).secret" }.joined(separator: ", ") + " (and .public)")
                say("allow-list lines (append client indices to bind a key, e.g. `KEY 0-9`):")
                for name in names { say("\(pairs[name]!.publicKey)  # \(name)") }
            }
        } catch { throw fail(error) }
    }
}
