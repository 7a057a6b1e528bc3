import Foundation

/// Runs a short command with posix_spawn and waits for it with waitpid: the child starts with
/// an empty signal mask and default signal actions (a daemon started from the test process
/// would otherwise inherit its blocked signals and ignore SIGTERM), and nothing depends on
/// Foundation noticing the exit of a process whose child outlives it.
enum Spawn {
    struct Result {
        var status: Int32
        var output: String
    }

    /// `argv[0]` is an absolute path. Output (stdout and stderr) is collected through a file.
    static func run(_ argv: [String], input: String? = nil, environment: [String: String] = [:]) throws -> Result {
        let scratch = NSTemporaryDirectory() + "aviary-spawn-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        let outPath = scratch + ".out", inPath = scratch + ".in"
        defer { unlink(outPath); unlink(inPath) }
        try (input ?? "").write(toFile: inPath, atomically: false, encoding: .utf8)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, inPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), defaults = sigset_t()
        sigemptyset(&none)
        sigemptyset(&defaults)
        for s: Int32 in 1..<32 where s != SIGKILL && s != SIGSTOP { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let env = ProcessInfo.processInfo.environment.merging(environment) { _, b in b }.map { "\($0)=\($1)" }
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) }; cEnv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attributes, cArgs, cEnv)
        guard rc == 0 else { throw SpawnError.spawn(argv.joined(separator: " "), errno: rc) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let output = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        // WIFEXITED/WEXITSTATUS are macros; a signal death reports 128 + the signal, like a shell.
        let exited = status & 0x7f == 0
        return Result(status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), output: output)
    }

    /// `run`, throwing with the command and its output when it does not exit 0.
    @discardableResult
    static func check(_ argv: [String], input: String? = nil, environment: [String: String] = [:]) throws -> String {
        let r = try run(argv, input: input, environment: environment)
        guard r.status == 0 else { throw SpawnError.failed(argv.joined(separator: " "), status: r.status, output: r.output) }
        return r.output
    }
}

enum SpawnError: Error, CustomStringConvertible {
    case spawn(String, errno: Int32)
    case failed(String, status: Int32, output: String)
    var description: String {
        switch self {
        case let .spawn(command, e): "cannot start `\(command)`: \(String(cString: strerror(e)))"
        case let .failed(command, status, output): "`\(command)` exited \(status): \(output)"
        }
    }
}
