import Foundation
import Testing
import AviaryTestSupport

/// docker-compose.yml is validated with Debian's docker-compose (no engine needed).
@Suite struct ComposeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static let tool = ["/usr/bin/docker-compose", "/usr/local/bin/docker-compose"].first(where: { FileManager.default.isExecutableFile(atPath: $0) })

    @Test(.enabled(if: Prerequisite.enabled(tool != nil), "docker-compose is not installed (make test installs it)"))
    func composeFileIsValid() throws {
        let tool = try #require(Self.tool, "docker-compose is not installed (make test installs it)")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = ["-f", Self.root + "/docker-compose.yml", "config", "--services"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        #expect(p.terminationStatus == 0, "docker-compose config failed:\n\(text)")
        #expect(text.contains("server") && text.contains("client-0"), "\(text)")
    }

    /// The clients' `--shard I/N --of C` shares cover the topology's clients exactly once, and
    /// every key file a service names is one that the keygen command in the file's header
    /// writes, mounted read-only from ./keys.
    @Test(.enabled(if: Prerequisite.enabled(tool != nil), "docker-compose is not installed (make test installs it)"))
    func composeClientsShareAllClientsAndUseTheKeygenLayout() throws {
        let tool = try #require(Self.tool, "docker-compose is not installed (make test installs it)")
        let config = try ComposeConfig(tool: tool, file: Self.root + "/docker-compose.yml")
        let server = try #require(config.services["server"], "\(config.services.keys)")
        let topologyPath = try #require(server.value(after: "--topology"))
        let topology = try String(contentsOfFile: Self.root + "/" + topologyPath, encoding: .utf8)
        let clientCount = try #require(topology.split(separator: "\n").lazy.compactMap { line -> Int? in
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            return parts.count == 2 && parts[0] == "clients" ? Int(parts[1].split(separator: " ").first ?? "") : nil
        }.first, "no clients = N in \(topologyPath)")

        // The keygen line in the header: `aviary keygen --dir keys --processes P --clients C`.
        let header = try String(contentsOfFile: Self.root + "/docker-compose.yml", encoding: .utf8)
        let keygen = try #require(header.split(separator: "\n").first { $0.contains("aviary keygen") }, "no keygen command in the header")
        let words = keygen.split(separator: " ").map(String.init)
        func keygenValue(_ flag: String) -> String? { words.firstIndex(of: flag).flatMap { $0 + 1 < words.count ? words[$0 + 1] : nil } }
        let processes = try #require(keygenValue("--processes").flatMap(Int.init))
        #expect(keygenValue("--dir") == "keys")
        #expect(keygenValue("--clients").flatMap(Int.init) == clientCount)
        let layout = Set(["server.secret", "server.public", "allowed.txt"] + (0..<processes).flatMap { ["client-\($0).secret", "client-\($0).public"] })

        let clients = config.services.filter { $0.value.command.first == "aviary-client" }
        #expect(clients.count == processes, "one client container per key pair")
        var hosted: [Int] = []
        for (name, service) in clients {
            let shard = try #require(service.value(after: "--shard"), "\(name) has no --shard")
            let parts = shard.split(separator: "/").compactMap { Int($0) }
            try #require(parts.count == 2, "\(name): --shard \(shard)")
            #expect(parts[1] == clients.count, "\(name): --shard \(shard) with \(clients.count) client containers")
            #expect(service.value(after: "--of").flatMap(Int.init) == clientCount, "\(name): --of is the topology's client count")
            hosted += Array(stride(from: parts[0], to: clientCount, by: parts[1]))
            #expect(service.value(after: "--curve-secret") == "/keys/client-\(parts[0]).secret", "\(name) uses its shard's key")
            #expect(service.value(after: "--server-public") == "/keys/server.public")
        }
        #expect(hosted.sorted() == Array(0..<clientCount), "every client hosted exactly once: \(hosted.sorted())")
        #expect(server.value(after: "--curve-secret") == "/keys/server.secret")
        #expect(server.value(after: "--allow") == "/keys/allowed.txt")

        for (name, service) in config.services {
            let named = service.command.filter { $0.hasPrefix("/keys/") }.map { String($0.dropFirst("/keys/".count)) }
            #expect(Set(named).isSubset(of: layout), "\(name) names key files keygen does not write: \(named)")
            if !named.isEmpty {
                #expect(service.volumes.contains(Self.root + "/keys:/keys:ro"), "\(name) mounts ./keys read-only: \(service.volumes)")
            }
        }
    }

    /// The keygen command from the compose file's header, run for real: every key file a service
    /// names exists, and the secrets are private.
    @Test(.enabled(if: Prerequisite.enabled(tool != nil), "docker-compose is not installed (make test installs it)"),
          .enabled(if: CurveBuild.keygenAvailable, CurveBuild.missing))
    func composeKeyFilesAreWhatKeygenWrites() throws {
        let tool = try #require(Self.tool, "docker-compose is not installed (make test installs it)")
        let config = try ComposeConfig(tool: tool, file: Self.root + "/docker-compose.yml")
        let header = try String(contentsOfFile: Self.root + "/docker-compose.yml", encoding: .utf8)
        let keygen = try #require(header.split(separator: "\n").first { $0.contains("aviary keygen") })
        var args = keygen.split(separator: " ").map(String.init).drop { $0 != "keygen" }.map { $0 }
        let dir = Harness.temporaryDirectory("compose-keys")
        if let i = args.firstIndex(of: "--dir"), i + 1 < args.count { args[i + 1] = dir + "/keys" }
        let result = try Harness.run("aviary", args)
        try #require(result.status == 0, "aviary \(args.joined(separator: " ")): \(result.output)")
        for (name, service) in config.services {
            for file in service.command where file.hasPrefix("/keys/") {
                let path = dir + "/keys/" + file.dropFirst("/keys/".count)
                #expect(FileManager.default.fileExists(atPath: path), "\(name) names \(file), which keygen did not write")
                if file.hasSuffix(".secret") {
                    let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? 0
                    #expect(mode & 0o077 == 0, "\(file) is private")
                }
            }
        }
    }
}
