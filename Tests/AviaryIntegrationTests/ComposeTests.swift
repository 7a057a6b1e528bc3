import Foundation
import Testing

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
        #expect(text.contains("server") && text.contains("client-a"), "\(text)")
    }
}
