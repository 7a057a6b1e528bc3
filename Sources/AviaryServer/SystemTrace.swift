import Foundation

/// Aviary's own device trace: one CSV row per client, `client,speed,up_bps,down_bps,latency_s,availability`
/// (a header line naming those columns is allowed), in Aviary's units. Not FedScale's format:
/// FedScale's device capacity and behaviour traces are read by `FedScaleTraces`.
public enum SystemTrace {
    public static let columns = ["client", "speed", "up_bps", "down_bps", "latency_s", "availability"]

    /// Reads `path` once; every client 0..<clients must have exactly one row.
    public static func load(path: String, clients: Int) throws(SystemTraceError) -> [SystemProfile] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadable(file: path, reason: FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw .unreadable(file: path, reason: "not UTF-8 text") }
        return try parse(text, file: path, clients: clients)
    }

    /// Pure: the profiles of clients 0..<clients, in index order.
    public static func parse(_ text: String, file: String, clients: Int) throws(SystemTraceError) -> [SystemProfile] {
        var rows = [SystemProfile?](repeating: nil, count: clients)
        var lineNumber = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if fields.first == "client" {
                guard fields == columns else {
                    throw .badRow(file: file, line: lineNumber, reason: "header must be \(columns.joined(separator: ","))")
                }
                continue
            }
            guard fields.count == columns.count else {
                throw .badRow(file: file, line: lineNumber, reason: "\(fields.count) fields, expected \(columns.count) (\(columns.joined(separator: ",")))")
            }
            guard let client = Int(fields[0]), (0..<clients).contains(client) else {
                throw .badRow(file: file, line: lineNumber, reason: "client '\(fields[0])' is not an index in 0..<\(clients)")
            }
            var values: [Double] = []
            for (name, field) in zip(columns.dropFirst(), fields.dropFirst()) {
                guard let v = Double(field), v.isFinite else {
                    throw .badRow(file: file, line: lineNumber, reason: "\(name) '\(field)' is not a finite number")
                }
                values.append(v)
            }
            for i in 0..<3 where values[i] <= 0 {
                throw .badRow(file: file, line: lineNumber, reason: "\(columns[i + 1]) must be > 0, got \(values[i])")
            }
            if values[3] < 0 { throw .badRow(file: file, line: lineNumber, reason: "latency_s must be ≥ 0, got \(values[3])") }
            if !(0...1).contains(values[4]) {
                throw .badRow(file: file, line: lineNumber, reason: "availability must be in [0, 1], got \(values[4])")
            }
            guard rows[client] == nil else { throw .badRow(file: file, line: lineNumber, reason: "client \(client) has a second row") }
            rows[client] = SystemProfile(speed: values[0], upBps: values[1], downBps: values[2], latency: values[3], availability: values[4])
        }
        if let missing = rows.firstIndex(where: { $0 == nil }) {
            throw .missingClient(file: file, client: missing, clients: clients)
        }
        return rows.map { $0! }
    }
}

public enum SystemTraceError: Error, CustomStringConvertible, Equatable {
    case unreadable(file: String, reason: String)
    case badRow(file: String, line: Int, reason: String)
    case missingClient(file: String, client: Int, clients: Int)
    case badEntry(file: String, client: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason): "\(file): cannot read the system trace: \(reason)"
        case let .badRow(file, line, reason): "\(file):\(line): bad system trace row: \(reason)"
        case let .missingClient(file, client, clients): "\(file): no row for client \(client) (the trace needs one row per client 0..<\(clients))"
        case let .badEntry(file, client, reason): "\(file): client '\(client)': \(reason)"
        }
    }
}
