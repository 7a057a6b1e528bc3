/// `[system]`: per-client system profiles (compute speed, bandwidth, latency, availability) and
/// how the server closes a round on the simulated clock (docs/TOPOLOGY.md, "[system]").
/// Absent from a topology: every client is equally fast and always available, as before.
public struct SystemSettings: Sendable, Hashable {
    /// `[seeds] system`: draws the profiles and the per-round availability, nothing else.
    public var seed: UInt64
    /// Device classes with shares summing to 1; without `[[system.devices]]`, one class built
    /// from `[system]`'s own quantity keys.
    public var devices: [DeviceClass]
    /// A CSV trace (one row per client) replacing the distributions; read once by the server.
    public var trace: String?
    /// FedScale's device capacity as JSON (`FedScaleTraces`): replaces speed and bandwidth.
    public var deviceCapacity: String? = nil
    /// FedScale's client behaviour trace as JSON: availability from its intervals on the clock.
    public var behaviourTrace: String? = nil
    /// Mean length in rounds of a client's online periods (on/off availability); nil: each round
    /// is an independent draw with the client's availability.
    public var onlinePeriod: Double?
    /// Simulated seconds after which the round closes; nil: no deadline.
    public var deadline: Double?
    /// Close the round once this many sampled clients have arrived (FedScale's over-commitment).
    public var kFastest: Int?
    public var stragglerPolicy: StragglerPolicy
    /// A stale update is scaled by (1 + s)^(−exponent), s = rounds late (FedAsync's polynomial rule).
    public var stalenessExponent: Double

    public init(seed: UInt64, devices: [DeviceClass], trace: String? = nil, onlinePeriod: Double? = nil,
                deadline: Double? = nil, kFastest: Int? = nil, stragglerPolicy: StragglerPolicy = .drop,
                stalenessExponent: Double = 0.5) {
        self.seed = seed; self.devices = devices; self.trace = trace; self.onlinePeriod = onlinePeriod
        self.deadline = deadline; self.kFastest = kFastest; self.stragglerPolicy = stragglerPolicy
        self.stalenessExponent = stalenessExponent
    }

    public enum StragglerPolicy: String, Sendable, Hashable, CaseIterable {
        /// A straggler's update is not merged; predicted stragglers are not even asked to train.
        case drop
        /// A straggler trains; its update is merged, scaled down, into the round it would arrive in.
        case stale
    }
}

/// One kind of device and its share of the population.
public struct DeviceClass: Sendable, Hashable {
    public var name: String
    public var share: Double
    /// Clean training throughput in samples per second (one forward/backward pass per sample).
    public var speed: SystemQuantity
    /// Uplink and downlink bandwidth in bytes per second.
    public var upBps: SystemQuantity
    public var downBps: SystemQuantity
    /// One-way latency in seconds, paid once per transfer.
    public var latency: SystemQuantity
    /// Probability of being online in a round (clamped to [0, 1]).
    public var availability: SystemQuantity

    public init(name: String, share: Double, speed: SystemQuantity, upBps: SystemQuantity, downBps: SystemQuantity,
                latency: SystemQuantity, availability: SystemQuantity) {
        self.name = name; self.share = share; self.speed = speed; self.upBps = upBps; self.downBps = downBps
        self.latency = latency; self.availability = availability
    }
}

/// A per-client value: a constant, or a distribution it is drawn from.
public enum SystemQuantity: Sendable, Hashable {
    case constant(Double)
    /// exp(N(log median, sigma²)).
    case lognormal(median: Double, sigma: Double)
    case uniform(min: Double, max: Double)

    /// The smallest value a draw can take (for validation: speeds and bandwidths must be > 0).
    public var lowerBound: Double {
        switch self {
        case let .constant(c): c
        case .lognormal: .leastNonzeroMagnitude
        case let .uniform(lo, _): lo
        }
    }
}
