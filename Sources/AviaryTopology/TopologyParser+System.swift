extension Topology {
    /// Quantity keys of `[system]` and of each `[[system.devices]]`, with their defaults and ranges.
    static let systemQuantities: [(key: String, default: Double, range: ClosedRange<Double>)] = [
        ("speed", 1000, 1e-6...1e12), ("up_bps", 1_250_000, 1...1e15), ("down_bps", 1_250_000, 1...1e15),
        ("latency_s", 0.05, 0...86_400), ("availability", 1, 0...1),
    ]

    /// `[system]`, or nil when the topology has none. `seed` is `[seeds] system`.
    static func parseSystem(_ t: TableReader, seed: UInt64, clientsPerRound: Int) throws(TopologyError) -> SystemSettings? {
        guard t.exists else { return nil }
        let trace = try t.string("trace")
        let capacity = try t.string("device_capacity")
        let behaviour = try t.string("behaviour_trace")
        if trace != nil && capacity != nil {
            throw t.invalid("device_capacity", "(set)", expected: "either 'trace' (Aviary's CSV) or 'device_capacity' (FedScale's), not both")
        }
        var base: [String: SystemQuantity] = [:]
        for q in systemQuantities {
            base[q.key] = try quantity(t, q.key, default: .constant(q.default), range: q.range)
        }
        var devices: [DeviceClass] = []
        let deviceTables = try t.tables("devices")
        for d in deviceTables {
            var values: [String: SystemQuantity] = [:]
            for q in systemQuantities { values[q.key] = try quantity(d, q.key, default: base[q.key]!, range: q.range) }
            devices.append(DeviceClass(name: try d.string("name", default: "class-\(devices.count)"),
                                       share: try d.double("share", default: 1, range: 0...1),
                                       speed: values["speed"]!, upBps: values["up_bps"]!, downBps: values["down_bps"]!,
                                       latency: values["latency_s"]!, availability: values["availability"]!))
            try d.finish()
        }
        if devices.isEmpty {
            devices = [DeviceClass(name: "default", share: 1, speed: base["speed"]!, upBps: base["up_bps"]!, downBps: base["down_bps"]!,
                                   latency: base["latency_s"]!, availability: base["availability"]!)]
        } else {
            let total = devices.reduce(0) { $0 + $1.share }
            guard abs(total - 1) < 1e-6 else {
                throw t.invalid("devices", "shares summing to \(total)", expected: "device shares that sum to 1")
            }
        }
        if trace != nil {
            let written = systemQuantities.map(\.key).filter { t.has($0) } + (deviceTables.isEmpty ? [] : ["devices"])
            t.ignore(written, because: "profiles come from the trace file")
        }
        let deadline = try t.double("deadline")
        if let deadline, !(deadline > 0 && deadline.isFinite) {
            throw t.invalid("deadline", "\(deadline)", expected: "a positive number of simulated seconds")
        }
        let k = try t.int("k_fastest")
        if let k, !(1...clientsPerRound).contains(k) {
            throw t.invalid("k_fastest", "\(k)", expected: "an integer in 1...\(clientsPerRound) ([server] clients_per_round)")
        }
        if capacity != nil {
            let written = ["speed", "up_bps", "down_bps"].filter { t.has($0) }
            t.ignore(written, because: "speed and bandwidth come from the device_capacity file")
        }
        if behaviour != nil {
            t.ignore(["availability", "online_period"].filter { t.has($0) }, because: "availability comes from the behaviour_trace file")
        }
        let period = behaviour != nil ? nil : try t.double("online_period")
        if let period, !(period >= 1 && period.isFinite) {
            throw t.invalid("online_period", "\(period)", expected: "a mean online period of at least 1 round")
        }
        let policy = try t.choice("straggler_policy", default: SystemSettings.StragglerPolicy.drop)
        let exponent = try t.double("staleness_exponent", default: 0.5, range: 0...10)
        if policy != .stale && t.has("staleness_exponent") {
            t.ignore(["staleness_exponent"], because: "it applies to straggler_policy = \"stale\"")
        }
        try t.finish()
        var settings = SystemSettings(seed: seed, devices: devices, trace: trace, onlinePeriod: period, deadline: deadline,
                                      kFastest: k, stragglerPolicy: policy, stalenessExponent: exponent)
        settings.deviceCapacity = capacity
        settings.behaviourTrace = behaviour
        return settings
    }

    /// A number (constant) or an inline table `{ distribution = "lognormal", median = …, sigma = … }`
    /// or `{ distribution = "uniform", min = …, max = … }`.
    static func quantity(_ t: TableReader, _ k: String, default d: SystemQuantity,
                         range: ClosedRange<Double>) throws(TopologyError) -> SystemQuantity {
        if t.has(k), let sub = try? t.table(k), sub.exists {
            let kind = try sub.requiredString("distribution")
            let q: SystemQuantity
            switch kind {
            case "lognormal":
                sub.ignore(["min", "max"], because: "it applies to distribution = \"uniform\"")
                guard sub.has("median") else { throw .missingKey(file: sub.file, key: sub.key("median")) }
                q = .lognormal(median: try sub.double("median", default: 1, range: range),
                               sigma: try sub.double("sigma", default: 0.5, range: 0...5))
            case "uniform":
                sub.ignore(["median", "sigma"], because: "it applies to distribution = \"lognormal\"")
                for key in ["min", "max"] where !sub.has(key) { throw .missingKey(file: sub.file, key: sub.key(key)) }
                let lo = try sub.double("min", default: 0, range: range)
                let hi = try sub.double("max", default: 0, range: range)
                guard lo <= hi else { throw sub.invalid("max", "\(hi)", expected: "a value ≥ min (\(lo))") }
                q = .uniform(min: lo, max: hi)
            default:
                throw sub.invalid("distribution", "\"\(kind)\"", expected: "\"lognormal\" or \"uniform\"")
            }
            try sub.finish()
            return q
        }
        guard let x = try t.double(k) else { return d }
        guard x.isFinite, range.contains(x) else {
            throw t.invalid(k, "\(x)", expected: "a number in \(range.lowerBound)...\(range.upperBound), or a distribution table")
        }
        return .constant(x)
    }
}
