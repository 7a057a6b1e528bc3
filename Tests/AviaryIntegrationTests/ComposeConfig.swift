import Foundation

/// The services of a compose file as `docker-compose config` resolves them (anchors merged),
/// read from its normalised YAML: per service, the command and the volume list.
struct ComposeConfig {
    struct Service {
        var command: [String] = []
        var volumes: [String] = []
        /// The argument after `flag` in the command.
        func value(after flag: String) -> String? {
            command.firstIndex(of: flag).flatMap { $0 + 1 < command.count ? command[$0 + 1] : nil }
        }
    }

    var services: [String: Service] = [:]

    init(tool: String, file: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = ["-f", file, "config"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else { throw ComposeError.config(text) }
        self.init(yaml: text)
    }

    /// Top-level `services:`, two-space service names, four-space keys, `    - item` list entries
    /// (the layout docker-compose 1.x prints).
    init(yaml: String) {
        var inServices = false, service: String?, key: String?
        for raw in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if !line.hasPrefix(" ") { inServices = line == "services:"; service = nil; continue }
            guard inServices else { continue }
            if line.hasPrefix("  ") && !line.hasPrefix("   ") && line.hasSuffix(":") {
                service = String(line.dropFirst(2).dropLast())
                services[service!] = Service()
            } else if line.hasPrefix("    - "), let service, let key {
                var item = String(line.dropFirst(6))
                if item.count >= 2, let q = item.first, q == "'" || q == "\"", item.last == q { item = String(item.dropFirst().dropLast()) }
                if key == "command" { services[service]?.command.append(item) }
                if key == "volumes" { services[service]?.volumes.append(item) }
            } else if line.hasPrefix("    ") && !line.hasPrefix("     ") {
                key = line.dropFirst(4).split(separator: ":").first.map(String.init)
            }
        }
    }
}

enum ComposeError: Error, CustomStringConvertible {
    case config(String)
    var description: String {
        switch self {
        case let .config(output): "docker-compose config failed:\n\(output)"
        }
    }
}
