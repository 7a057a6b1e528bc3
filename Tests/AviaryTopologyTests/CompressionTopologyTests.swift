import Foundation
import Testing
@testable import AviaryTopology
import AviaryNN
import AviaryProtocol

/// `[compression]`: parsed, overridable with --set, refused with the key named, and carried to
/// clients in the run spec.
@Suite struct CompressionTopologyTests {
    static let base = OverrideTests.base

    func parse(_ overrides: [String]) throws -> Topology {
        try Topology.parse(try Topology.applying(overrides, to: Self.base, file: "t.toml"), file: "t.toml")
    }

    @Test func defaultIsF32AndEveryEncodingParses() throws {
        #expect(try parse([]).compression == .f32)
        #expect(try parse(["compression.encoding=f16"]).compression == .f16)
        #expect(try parse(["compression.encoding=int8"]).compression == .int8)
        #expect(try parse(["compression.encoding=topk"]).compression == .topk(fraction: 0.01))
        #expect(try parse(["compression.encoding=topk", "compression.topk_fraction=0.25"]).compression == .topk(fraction: 0.25))
    }

    @Test func badValuesNameTheKey() throws {
        for (overrides, key) in [(["compression.encoding=zip"], "compression.encoding"),
                                 (["compression.encoding=topk", "compression.topk_fraction=0"], "compression.topk_fraction"),
                                 (["compression.encoding=topk", "compression.topk_fraction=1.5"], "compression.topk_fraction"),
                                 (["compression.encoding=topk", "compression.topk_residual_max_age=0"], "compression.topk_residual_max_age"),
                                 (["compression.encoding=topk", "compression.topk_residual_max_age=1.5"], "compression.topk_residual_max_age"),
                                 (["compression.encodings=f16"], "compression.encodings")] {
            do {
                _ = try parse(overrides)
                Issue.record("\(overrides) was accepted")
            } catch {
                #expect("\(error)".contains(key), "\(error)")
            }
        }
        let t = try parse(["compression.encoding=int8", "compression.topk_fraction=0.1"])
        #expect(t.warnings.contains { $0.contains("compression.topk_fraction") && $0.contains("ignored") })
        let f16 = try parse(["compression.encoding=f16", "compression.topk_residual_max_age=5"])
        #expect(f16.warnings.contains { $0.contains("compression.topk_residual_max_age") && $0.contains("ignored") })
        #expect(f16.residualMaxAge == nil && f16.config["compression.topk_residual_max_age"] == nil)
    }

    @Test func aResidualMaxAgeReachesClientsAndTheRecordedConfig() throws {
        let aged = try parse(["compression.encoding=topk", "compression.topk_residual_max_age=20"])
        #expect(aged.residualMaxAge == 20 && aged.config["compression.topk_residual_max_age"] == .int(20))
        let spec = aged.runSpec(model: .mlp(inputs: 60, hidden: [8], classes: 10))
        #expect(try JSONDecoder().decode(RunSpec.self, from: JSONEncoder().encode(spec)).residualMaxAge == 20)
        // Left out: kept however old, recorded as null.
        let forever = try parse(["compression.encoding=topk"])
        #expect(forever.residualMaxAge == nil && forever.config["compression.topk_residual_max_age"] == .null)
    }

    @Test func theRunSpecCarriesTheEncodingToClients() throws {
        let t = try parse(["compression.encoding=topk", "compression.topk_fraction=0.05"])
        let spec = t.runSpec(model: .mlp(inputs: 60, hidden: [8], classes: 10))
        let decoded = try JSONDecoder().decode(RunSpec.self, from: JSONEncoder().encode(spec))
        #expect(decoded.compression == .topk(fraction: 0.05))
        #expect(decoded.runID == nil && decoded.resumes.isEmpty)  // the server sets them
    }

    @Test func roundingAndErrorFeedbackReachClientsAndAreCheckedAgainstTheEncoding() throws {
        #expect(try parse(["compression.encoding=int8"]).quantisation == nil)
        let t = try parse(["compression.encoding=int8", "compression.rounding=stochastic", "compression.error_feedback=true"])
        #expect(t.quantisation == QuantisationOptions(rounding: .stochastic, errorFeedback: true))
        let spec = t.runSpec(model: .mlp(inputs: 60, hidden: [8], classes: 10))
        #expect(try JSONDecoder().decode(RunSpec.self, from: JSONEncoder().encode(spec)).quantisation == t.quantisation)
        #expect(t.compression.usesErrorFeedback(t.quantisation) && !DeltaEncoding.int8.usesErrorFeedback(nil))
        #expect(try parse(["compression.encoding=f16", "compression.error_feedback=true"]).quantisation?.errorFeedback == true)
        // Stochastic rounding is int8's; a typo names the key; on f32/top-k both keys are warnings.
        for (overrides, key) in [(["compression.encoding=f16", "compression.rounding=stochastic"], "compression.rounding"),
                                 (["compression.encoding=int8", "compression.rounding=up"], "compression.rounding"),
                                 (["compression.encoding=int8", "compression.error_feedback=1"], "compression.error_feedback")] {
            #expect(throws: (any Error).self) { try parse(overrides) }
            do { _ = try parse(overrides) } catch { #expect("\(error)".contains(key), "\(error)") }
        }
        let topk = try parse(["compression.encoding=topk", "compression.error_feedback=true", "compression.rounding=stochastic"])
        #expect(topk.quantisation == nil && topk.warnings.filter { $0.contains("ignored") }.count == 2, "\(topk.warnings)")
        // A spec from an older server, without the field, decodes as round-to-nearest without feedback.
        var old = try JSONSerialization.jsonObject(with: JSONEncoder().encode(spec)) as! [String: Any]
        old["quantisation"] = nil
        #expect(try JSONDecoder().decode(RunSpec.self, from: JSONSerialization.data(withJSONObject: old)).quantisation == nil)
    }
}
