import Foundation

/// FedScale's two client traces, as JSON with exactly FedScale's fields (its own files are
/// Python pickles; `tools/fedscale_traces_to_json.py` converts them, and nothing here unpickles):
///
/// - device capacity (FedScale's `client_device_capacity`): `{"<id>": {"computation": c,
///   "communication": b}}`, c the model's inference latency in ms per sample and b the bandwidth
///   in kbit/s. FedScale charges 3·c ms per trained sample (forward plus a backward pass of about
///   twice its cost) and (upload + download kbit)/b seconds for the transfers, so a client's
///   `speed` (forward/backward passes per second) is 1000/(3·c) and its bandwidth b·1000/8 bytes
///   per second each way.
/// - client behaviour (FedScale's `client_behave_trace`): `{"<id>": {"active": [t…],
///   "inactive": [t…], "finish_time": T}}`: the client is online at simulated time t when
///   t mod T lies in some [active[i], inactive[i]] (FedScale's `is_active`, without its
///   stateful index walk, which can skip an interval when rounds are long).
///
/// Entries are taken in ascending numeric order of their ids, and client i gets entry
/// i mod (number of entries), as FedScale maps its clients onto a trace shorter than the population.
public enum FedScaleTraces {
    public struct Capacity: Sendable, Equatable {
        /// Inference latency, ms per sample.
        public var computation: Double
        /// Bandwidth, kbit/s.
        public var communication: Double

        public init(computation: Double, communication: Double) { self.computation = computation; self.communication = communication }

        /// Forward/backward passes per second, FedScale's cost model (3 × inference).
        public var speed: Double { 1000 / (3 * computation) }
        /// Bytes per second, each way.
        public var bytesPerSecond: Double { communication * 1000 / 8 }
    }

    public static func capacities(path: String) throws(SystemTraceError) -> [Capacity] {
        try entries(path: path, fields: ["computation", "communication"]).map { e throws(SystemTraceError) in
            let (key, fields) = (e.key, e.fields)
            let c = try positive(fields, "computation", key: key, file: path), b = try positive(fields, "communication", key: key, file: path)
            return Capacity(computation: c, communication: b)
        }
    }

    public static func behaviours(path: String) throws(SystemTraceError) -> [BehaviourTrace] {
        try entries(path: path, fields: ["active", "inactive", "finish_time"]).map { e throws(SystemTraceError) in
            let (key, fields) = (e.key, e.fields)
            let finish = try positive(fields, "finish_time", key: key, file: path)
            guard let active = numbers(fields["active"]), let inactive = numbers(fields["inactive"]) else {
                throw .badEntry(file: path, client: key, reason: "'active' and 'inactive' must be arrays of finite numbers")
            }
            guard !active.isEmpty, active.count == inactive.count else {
                throw .badEntry(file: path, client: key, reason: "'active' and 'inactive' need the same, non-zero number of times (\(active.count) and \(inactive.count))")
            }
            if let i = active.indices.first(where: { active[$0] > inactive[$0] }) {
                throw .badEntry(file: path, client: key, reason: "interval \(i) starts at \(active[i]) after it ends at \(inactive[i])")
            }
            return BehaviourTrace(active: active, inactive: inactive, finishTime: finish)
        }
    }

    /// The file's entries in ascending numeric id order, each with its fields (others ignored).
    static func entries(path: String, fields: [String]) throws(SystemTraceError) -> [(key: String, fields: [String: Any])] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadable(file: path, reason: FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any], !root.isEmpty else {
            throw .unreadable(file: path, reason: "not a non-empty JSON object of client id → {\(fields.joined(separator: ", "))}")
        }
        var out: [(id: Int, key: String, fields: [String: Any])] = []
        for (key, value) in root {
            guard let id = Int(key) else { throw .badEntry(file: path, client: key, reason: "the id is not an integer") }
            guard let entry = value as? [String: Any] else { throw .badEntry(file: path, client: key, reason: "not an object") }
            if let missing = fields.first(where: { entry[$0] == nil }) {
                throw .badEntry(file: path, client: key, reason: "no '\(missing)' (FedScale's fields: \(fields.joined(separator: ", ")))")
            }
            out.append((id, key, entry))
        }
        return out.sorted { $0.id < $1.id }.map { ($0.key, $0.fields) }
    }

    static func numbers(_ value: Any?) -> [Double]? {
        guard let list = value as? [Any] else { return nil }
        let values = list.compactMap { ($0 as? NSNumber)?.doubleValue }
        return values.count == list.count && values.allSatisfy(\.isFinite) ? values : nil
    }

    static func positive(_ fields: [String: Any], _ name: String, key: String, file: String) throws(SystemTraceError) -> Double {
        guard let v = (fields[name] as? NSNumber)?.doubleValue, v.isFinite, v > 0 else {
            throw .badEntry(file: file, client: key, reason: "'\(name)' must be a finite number > 0, got \(fields[name].map { "\($0)" } ?? "nothing")")
        }
        return v
    }
}

/// One client's FedScale behaviour trace: online in [active[i], inactive[i]] of every period of
/// `finishTime` simulated seconds.
public struct BehaviourTrace: Sendable, Equatable {
    public var active: [Double]
    public var inactive: [Double]
    public var finishTime: Double

    public init(active: [Double], inactive: [Double], finishTime: Double) {
        self.active = active; self.inactive = inactive; self.finishTime = finishTime
    }

    public func isActive(at t: Double) -> Bool {
        let x = t.truncatingRemainder(dividingBy: finishTime)
        return active.indices.contains { active[$0] <= x && x <= inactive[$0] }
    }
}
