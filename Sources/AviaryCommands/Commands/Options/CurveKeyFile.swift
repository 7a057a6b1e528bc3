import Foundation
import AviaryLog
import AviaryProtocol
import AviaryTransport

/// CURVE key files as `aviary keygen` writes them, in the style of ZeroMQ's certificates:
/// `NAME.secret` (mode 0600) holds `public = "…"` and `secret = "…"`, `NAME.public` only the
/// public line; `#` lines are comments. A secret file that group or others can read is refused.
enum CurveKeyFile {
    static func secretText(_ pair: CurveKeyPair, name: String) -> String {
        "# Aviary CURVE key pair \"\(name)\": keep this file private (mode 0600)\n"
            + "public = \"\(pair.publicKey)\"\nsecret = \"\(pair.secretKey)\"\n"
    }

    static func publicText(_ key: String, name: String) -> String {
        "# Aviary CURVE public key \"\(name)\": give it to the other side\npublic = \"\(key)\"\n"
    }

    /// The `key = "value"` lines of a key file.
    private static func fields(_ path: String, _ text: String) throws(KeyFileError) -> [String: String] {
        var out: [String: String] = [:]
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, parts[1].count >= 2, parts[1].hasPrefix("\""), parts[1].hasSuffix("\"") else {
                throw .malformed(path: path, reason: "line \(n + 1) is not `name = \"value\"`")
            }
            out[parts[0]] = String(parts[1].dropFirst().dropLast())
        }
        return out
    }

    private static func read(_ path: String) throws(KeyFileError) -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw .unreadable(path: path, reason: FileManager.default.fileExists(atPath: path) ? "permission denied or not UTF-8" : "no such file (aviary keygen writes key files)")
        }
        return text
    }

    /// A key pair from a `.secret` file, refused when group or others may read the file or
    /// when its public key does not belong to its secret key.
    static func readSecret(_ path: String) throws(KeyFileError) -> CurveKeyPair {
        var st = stat()
        guard stat(path, &st) == 0 else { throw .unreadable(path: path, reason: posixReason(errno)) }
        let mode = st.st_mode & 0o777
        guard mode & 0o077 == 0 else { throw .tooOpen(path: path, mode: mode) }
        let f = try fields(path, try read(path))
        guard let secret = f["secret"], CurveKeyPair.isZ85Key(secret) else {
            throw .malformed(path: path, reason: "no `secret = \"<40 Z85 characters>\"` line (is this a .public file?)")
        }
        let derived: String?
        do { derived = try CurveKeyPair.publicKey(forSecret: secret) } catch { throw .curve(error) }
        guard let derived else { throw .malformed(path: path, reason: "the secret key is not a valid CURVE key") }
        if let pub = f["public"], pub != derived {
            throw .malformed(path: path, reason: "its public key does not belong to its secret key")
        }
        return CurveKeyPair(publicKey: derived, secretKey: secret)
    }

    /// The public key of a `.public` file. A file holding a secret key is refused: secret
    /// keys never travel to the other side.
    static func readPublic(_ path: String) throws(KeyFileError) -> String {
        let f = try fields(path, try read(path))
        guard f["secret"] == nil else { throw .secretGivenAsPublic(path: path) }
        guard let pub = f["public"], CurveKeyPair.isZ85Key(pub) else {
            throw .malformed(path: path, reason: "no `public = \"<40 Z85 characters>\"` line")
        }
        return pub
    }

    static func readAllowList(_ path: String) throws -> AllowList {
        try AllowList.parse(try read(path), file: path)
    }

    /// Writes `text` to `path` with `mode`; refuses an existing file unless `force`.
    static func write(_ text: String, to path: String, mode: mode_t, force: Bool) throws(KeyFileError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL), mode)
        guard fd >= 0 else {
            if errno == EEXIST { throw .exists(path: path) }
            throw .cannotWrite(path: path, reason: posixReason(errno))
        }
        defer { close(fd) }
        // An existing file keeps its old mode through O_TRUNC: set it explicitly.
        guard fchmod(fd, mode) == 0 else { throw .cannotWrite(path: path, reason: posixReason(errno)) }
        let bytes = Array(text.utf8)
        guard Foundation.write(fd, bytes, bytes.count) == bytes.count else { throw .cannotWrite(path: path, reason: posixReason(errno)) }
    }

    /// Creates `dir` (mode 0700) if missing.
    static func makeDirectory(_ dir: String) throws(KeyFileError) {
        if mkdir(dir, 0o700) != 0 && errno != EEXIST {
            do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) }
            catch { throw .cannotWrite(path: dir, reason: ErrorReason.of(error)) }
        }
    }

    /// Key pairs for `names` in `dir`: `NAME.secret` (0600) and `NAME.public` (0644). Checks
    /// every target first, so a refusal writes nothing. Returns the pairs by name.
    @discardableResult
    static func writePairs(_ names: [String], in dir: String, force: Bool) throws(KeyFileError) -> [String: CurveKeyPair] {
        try makeDirectory(dir)
        if !force {
            for name in names {
                for ext in ["secret", "public"] where FileManager.default.fileExists(atPath: "\(dir)/\(name).\(ext)") {
                    throw .exists(path: "\(dir)/\(name).\(ext)")
                }
            }
        }
        var pairs: [String: CurveKeyPair] = [:]
        for name in names {
            let pair: CurveKeyPair
            do { pair = try CurveKeyPair.generate() } catch { throw .curve(error) }
            try write(secretText(pair, name: name), to: "\(dir)/\(name).secret", mode: 0o600, force: force)
            try write(publicText(pair.publicKey, name: name), to: "\(dir)/\(name).public", mode: 0o644, force: force)
            pairs[name] = pair
        }
        return pairs
    }

    /// A federation's keys: `server`, `client-0` … `client-(N-1)`, and `allowed.txt` binding
    /// client-I to the indices of `aviary-client --shard I/N --of C`.
    /// `shares`, when given, are the clients of each process (`aviary run`'s process plan, which
    /// puts attackers in processes of their own); otherwise process I holds `--shard I/processes`.
    static func writeFederation(in dir: String, processes: Int, clients: Int, force: Bool,
                                shares: [[Int]]? = nil) throws(KeyFileError) {
        let processes = shares?.count ?? processes
        let names = ["server"] + (0..<processes).map { "client-\($0)" }
        let allowPath = dir + "/allowed.txt"
        if !force && FileManager.default.fileExists(atPath: allowPath) { throw .exists(path: allowPath) }
        let pairs = try writePairs(names, in: dir, force: force)
        var text = "# Aviary CURVE allow-list: one client public key per line, then the client indices it may\n"
            + (shares == nil
                ? "# register (none: any). client-I holds the indices of aviary-client --shard I/\(processes) --of \(clients).\n"
                : "# register (none: any). client-I holds the clients of aviary run's process I.\n")
        for p in 0..<processes {
            let binding = AllowList.Binding.of(shares?[p] ?? ClientSet.shard(p, of: processes, clients: clients))
            text += "\(pairs["client-\(p)"]!.publicKey) \(binding)  # client-\(p)\n"
        }
        try write(text, to: allowPath, mode: 0o644, force: force)
    }
}

extension CurveKeyFile {
    /// `aviary run`'s keys for one launch (fresh, `--overwrite` or `--resume`): the directory is
    /// removed and written anew, so no key of an earlier launch, or of an earlier process plan,
    /// stays beside the new ones, and the new allow-list admits only this launch's processes.
    static func writeLaunchKeys(in dir: String, clients: Int, shares: [[Int]]) throws(KeyFileError) {
        var st = stat()
        if lstat(dir, &st) == 0 {
            do { try FileManager.default.removeItem(atPath: dir) }
            catch { throw .cannotWrite(path: dir, reason: "cannot remove the previous launch's keys: \(ErrorReason.of(error))") }
        }
        try writeFederation(in: dir, processes: shares.count, clients: clients, force: false, shares: shares)
        // mkdir's mode passes through the umask; the directory must end up owner-only whatever it is.
        guard chmod(dir, 0o700) == 0 else { throw .cannotWrite(path: dir, reason: posixReason(errno)) }
    }
}

/// Why a key file or key directory could not be used; each case names the file.
enum KeyFileError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case tooOpen(path: String, mode: mode_t)
    case malformed(path: String, reason: String)
    case secretGivenAsPublic(path: String)
    case exists(path: String)
    case cannotWrite(path: String, reason: String)
    case curve(ZmqError)

    var description: String {
        switch self {
        case let .unreadable(path, reason): "cannot read the key file \(path): \(reason)"
        case let .tooOpen(path, mode):
            "the secret key file \(path) is readable by group or others (mode \(String(mode, radix: 8))); run `chmod 600 \(path)`"
        case let .malformed(path, reason): "\(path) is not an Aviary CURVE key file: \(reason)"
        case let .secretGivenAsPublic(path):
            "\(path) holds a secret key; give the matching .public file (a secret key never leaves its owner)"
        case let .exists(path): "\(path) exists; pass --force to replace it (clients holding the old keys can no longer connect)"
        case let .cannotWrite(path, reason): "cannot write \(path): \(reason)"
        case let .curve(error): "\(error)"
        }
    }
}
