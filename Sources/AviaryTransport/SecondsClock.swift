import Synchronization

/// Monotonic time in seconds for the protocol loops. The system one reads the OS clock; the
/// manual one moves only when told (or when an in-memory transport waits), so liveness and
/// deadline cases run in milliseconds in tests.
public protocol SecondsClock: AnyObject, Sendable {
    var now: Double { get }
}

public final class SystemSecondsClock: SecondsClock {
    private let start = ContinuousClock.now
    public init() {}
    public var now: Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}

public final class ManualSecondsClock: SecondsClock {
    private let value: Mutex<Double>
    public init(_ start: Double = 0) { value = Mutex(start) }
    public var now: Double { value.withLock { $0 } }
    public func advance(by seconds: Double) { value.withLock { $0 += seconds } }
}
