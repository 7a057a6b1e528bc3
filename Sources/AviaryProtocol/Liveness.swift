/// The protocol's timing constants, in one place with their units (the ZeroMQ guide's Paranoid
/// Pirate pattern). The server sends them to every process in WELCOME, so both sides agree.
public struct LivenessSettings: Sendable, Equatable {
    /// Seconds between heartbeats. Each side sends one to the other whenever it has sent nothing
    /// else for this long; any message counts as a sign of life.
    public var heartbeatIntervalSeconds: Double
    /// Heartbeat intervals of silence after which the other side counts as dead.
    public var missedHeartbeats: Int

    public init(heartbeatIntervalSeconds: Double = 2, missedHeartbeats: Int = 3) {
        self.heartbeatIntervalSeconds = heartbeatIntervalSeconds
        self.missedHeartbeats = missedHeartbeats
    }

    /// Seconds of silence after which a peer is dead: `missedHeartbeats × heartbeatIntervalSeconds`.
    public var deadAfterSeconds: Double { Double(missedHeartbeats) * heartbeatIntervalSeconds }
}

/// How a client process retries registration after losing its server: exponential back-off,
/// jittered so that many processes do not reconnect in lockstep.
public struct ReconnectBackoff: Sendable, Equatable {
    /// Delay before the second attempt, in seconds.
    public var initialSeconds: Double
    /// Ceiling of the doubling delay, in seconds.
    public var maximumSeconds: Double
    /// Each delay is scaled by a factor drawn uniformly from [1 − jitter, 1 + jitter].
    public var jitter: Double

    public init(initialSeconds: Double = 1, maximumSeconds: Double = 32, jitter: Double = 0.25) {
        self.initialSeconds = initialSeconds
        self.maximumSeconds = maximumSeconds
        self.jitter = jitter
    }

    /// The delay after attempt `attempt` (0-based), with `unit` ∈ [0, 1) the jitter draw.
    public func delay(afterAttempt attempt: Int, unit: Double) -> Double {
        let base = min(maximumSeconds, initialSeconds * Double(1 << min(attempt, 30)))
        return base * (1 - jitter + 2 * jitter * unit)
    }
}
