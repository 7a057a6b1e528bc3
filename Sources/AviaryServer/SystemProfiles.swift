import Foundation
import AviaryMath
import AviaryTopology

/// One client's simulated device.
public struct SystemProfile: Sendable, Equatable {
    /// Clean training throughput, samples (one forward/backward pass each) per second.
    public var speed: Double
    /// Bytes per second.
    public var upBps: Double
    public var downBps: Double
    /// Seconds, paid once per transfer (download and upload).
    public var latency: Double
    /// Probability of being online in a round, in [0, 1].
    public var availability: Double
    /// Index of the device class it was drawn from (`[[system.devices]]`); 0 for a trace.
    public var deviceClass: Int

    public init(speed: Double, upBps: Double, downBps: Double, latency: Double, availability: Double, deviceClass: Int = 0) {
        self.speed = speed; self.upBps = upBps; self.downBps = downBps; self.latency = latency
        self.availability = availability; self.deviceClass = deviceClass
    }
}

/// Every client's profile: a pure function of (system seed, client index) drawn on demand, so
/// 100,000 clients need no table, or one row of a trace read once.
public struct SystemProfiles: Sendable {
    enum Source: Sendable {
        case drawn(devices: [DeviceClass], seed: UInt64)
        case trace([SystemProfile])
    }
    let source: Source

    public init(devices: [DeviceClass], seed: UInt64) { source = .drawn(devices: devices, seed: seed) }
    public init(trace: [SystemProfile]) { source = .trace(trace) }

    /// FedScale device capacities over `base`: client i takes speed and bandwidth from entry
    /// i mod count (`FedScaleTraces`), and keeps its latency, availability and class from `base`.
    public init(capacities: [FedScaleTraces.Capacity], over base: SystemProfiles, clients: Int) {
        source = .trace((0..<clients).map { i in
            var p = base.profile(i)
            let c = capacities[i % capacities.count]
            p.speed = c.speed; p.upBps = c.bytesPerSecond; p.downBps = c.bytesPerSecond
            return p
        })
    }

    public func profile(_ client: Int) -> SystemProfile {
        switch source {
        case let .trace(rows): return rows[client]
        case let .drawn(devices, seed): return Self.draw(client: client, devices: devices, seed: seed)
        }
    }

    /// One stream per client (its own namespace under the system seed); the class first, then
    /// each quantity in a fixed order, so a client's profile never depends on another's.
    static func draw(client: Int, devices: [DeviceClass], seed: UInt64) -> SystemProfile {
        var rng = RandomStream(seed: seed, purpose: .other, index: 0x5157_0000_0000_0000 | UInt64(client))
        let u = rng.nextDouble()
        var chosen = devices.count - 1
        var cumulative = 0.0
        for (i, d) in devices.enumerated() {
            cumulative += d.share
            if u < cumulative { chosen = i; break }
        }
        let d = devices[chosen]
        let speed = d.speed.draw(&rng), up = d.upBps.draw(&rng), down = d.downBps.draw(&rng)
        let latency = d.latency.draw(&rng), availability = d.availability.draw(&rng)
        return SystemProfile(speed: max(speed, 1e-9), upBps: max(up, 1e-9), downBps: max(down, 1e-9), latency: max(latency, 0),
                             availability: min(max(availability, 0), 1), deviceClass: chosen)
    }
}

extension SystemQuantity {
    /// Always consumes exactly two uniforms, so the draws after it stay aligned whatever its kind.
    func draw(_ rng: inout RandomStream) -> Double {
        let u1 = rng.nextDouble(), u2 = rng.nextDouble()
        switch self {
        case let .constant(c):
            return c
        case let .lognormal(median, sigma):
            // Box–Muller on the two uniforms (1 − u1 keeps the log finite).
            let z = (-2 * log(1 - u1)).squareRoot() * cos(2 * Double.pi * u2)
            return median * exp(sigma * z)
        case let .uniform(lo, hi):
            return lo + (hi - lo) * u1
        }
    }
}
