import Foundation

/// Why `aviary run` stopped without a completed run. Each case names the process, file or key
/// involved, so the one error line says where to look.
enum LaunchError: Error, CustomStringConvertible {
    /// `[run].output` (or a run directory under it) could not be created.
    case cannotCreateRunDirectory(key: String, path: String, reason: String)
    case notARun(path: String, reason: String)
    case badName(name: String, expected: String)
    case missingExecutable(path: String)
    case cannotOpenLog(path: String, reason: String)
    case cannotStart(executable: String, reason: String)
    /// `log` is nil when the run directory was removed (nothing had started in it).
    case serverExitedBeforeListening(status: String, log: String?, tail: String)
    case serverNeverListened(seconds: Double, log: String)
    case serverFailed(status: String, log: String, tail: String, lost: [String])
    case everyClientExited(lost: [String])
    /// `directory`: the run, to continue with --resume once its server has written topology.toml; nil before.
    case interrupted(log: String, directory: String?)
    /// `[model] kind = "external"` without `[processes] command`: no process aviary run could start trains it.
    case nothingToLaunch(file: String)
    /// `[security] curve = true`: the run's ephemeral keys could not be written.
    case cannotCreateKeys(path: String, reason: String)

    var description: String {
        switch self {
        case let .cannotCreateRunDirectory(key, path, reason):
            "cannot create the run directory \(path) (from \(key)): \(reason)"
        case let .notARun(path, reason):
            "\(path) is not a run to resume: \(reason)"
        case let .badName(name, expected):
            "--name \"\(name.count > 60 ? name.prefix(40) + "…" : Substring(name))\" cannot name a run directory; expected \(expected)"
        case let .missingExecutable(path):
            "cannot find \(path) (build with `swift build -c release`, or run from the build directory)"
        case let .cannotOpenLog(path, reason):
            "cannot open the process log \(path): \(reason)"
        case let .cannotStart(executable, reason):
            "cannot start \(executable): \(reason)"
        case let .serverExitedBeforeListening(status, log, tail):
            "aviary-server \(status) before listening; "
                + (log.map { "see \($0)" } ?? "nothing had started, so its run directory was removed. Its last lines:") + "\n\(tail)"
        case let .serverNeverListened(seconds, log):
            "aviary-server did not start listening within \(Int(seconds)) s; see \(log)"
        case let .serverFailed(status, log, tail, lost):
            "aviary-server \(status); see \(log)\n\(tail)" + lost.map { "\n  lost: \($0)" }.joined()
        case let .everyClientExited(lost):
            "every client process has exited, \(lost.count) with an error; the server was stopped:\n  "
                + lost.joined(separator: "\n  ")
        case let .interrupted(log, directory):
            "interrupted; every process was stopped. The log so far is in \(log)"
                + (directory.map { "\ncontinue it with: aviary run --resume \($0)" } ?? "")
        case let .nothingToLaunch(file):
            "\(file): [model] kind = \"external\" needs client processes aviary run can start: set [processes] command "
                + "(e.g. [\"python3\", \"-m\", \"aviary_client\", \"--app\", \"mymodule:app\"]) and count, "
                + "or start aviary-server --topology \(file) and the SDK clients by hand"
        case let .cannotCreateKeys(path, reason):
            "cannot write the run's CURVE keys to \(path) ([security] curve = true): \(reason)"
        }
    }
}

/// The text of an errno, for messages that must not be a raw NSError dump.
func posixReason(_ code: Int32) -> String { String(cString: strerror(code)) }
