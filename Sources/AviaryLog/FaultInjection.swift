#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Crash points for the crash-and-resume tests: when the environment variable
/// `AVIARY_CRASH_AT` names a point, the process kills itself with SIGKILL there, exactly as
/// `kill -9` from outside would, but at a chosen instant (mid-round, halfway through writing a
/// checkpoint, …). Unset, it costs one comparison. docs/ARCHITECTURE.md lists the points.
public enum FaultInjection {
    private static let requested: String? = {
        guard let p = getenv("AVIARY_CRASH_AT") else { return nil }
        return String(cString: p)
    }()

    /// SIGKILLs this process if `AVIARY_CRASH_AT` equals `point`.
    public static func crashPoint(_ point: @autoclosure () -> String) {
        guard let requested, requested == point() else { return }
        kill(getpid(), SIGKILL)
    }
}
