import Testing
@testable import AviaryTopology

/// `[security]`: CURVE on or off, through the file and through `--set`.
@Suite struct SecurityTopologyTests {
    static let base = OverrideTests.base

    @Test func curveIsOffByDefaultAndOnThroughSet() throws {
        #expect(try Topology.parse(Self.base, file: "t.toml").security == .init())
        let text = try Topology.applying(["security.curve=true", "security.allow_list=\"keys/allowed.txt\""], to: Self.base, file: "t.toml")
        let t = try Topology.parse(text, file: "t.toml")
        #expect(t.security == .init(curve: true, serverSecret: nil, allowList: "keys/allowed.txt"))
    }

    @Test func badSecurityKeysAreRefusedByName() throws {
        for override in ["security.curv=true", "security.curve=\"yes\"", "security.server_secret=\"\""] {
            let text = try Topology.applying([override], to: Self.base, file: "t.toml")
            do {
                _ = try Topology.parse(text, file: "t.toml")
                Issue.record("\(override) was accepted")
            } catch {
                let key = String(override.prefix { $0 != "=" })
                #expect("\(error)".contains(key), "\(error)")
            }
        }
    }

    @Test func keyPathsWithoutCurveAreIgnoredWithAWarning() throws {
        let text = try Topology.applying(["security.server_secret=\"s\""], to: Self.base, file: "t.toml")
        let t = try Topology.parse(text, file: "t.toml")
        #expect(t.security.serverSecret == nil)
        #expect(t.warnings.contains { $0.contains("security.server_secret") })
    }
}
