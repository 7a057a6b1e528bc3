import AviaryProtocol

extension Topology {
    enum EncodingKind: String, CaseIterable { case f32, f16, int8, topk }

    /// `[compression]`: how clients encode their UPDATE deltas (docs/TOPOLOGY.md).
    ///
    ///     encoding = "topk"            # "f32" (default), "f16", "int8" or "topk"
    ///     topk_fraction = 0.01         # topk only: share of the parameters sent each round
    ///     topk_residual_max_age = 20   # topk only: drop error-feedback residuals older than this many rounds
    static func parseCompression(_ t: TableReader) throws(TopologyError) -> (encoding: DeltaEncoding, residualMaxAge: Int?) {
        let kind = try t.choice("encoding", default: EncodingKind.f32)
        var encoding = DeltaEncoding.f32
        var maxAge: Int? = nil
        switch kind {
        case .f32: encoding = .f32
        case .f16: encoding = .f16
        case .int8: encoding = .int8
        case .topk:
            let fraction = try t.double("topk_fraction", default: 0.01, range: 1e-6...1)
            guard fraction > 0 else { throw t.invalid("topk_fraction", "\(fraction)", expected: "a share in 1e-6...1") }
            encoding = .topk(fraction: fraction)
            // Absent (recorded as null): residuals are kept however old.
            maxAge = try t.int("topk_residual_max_age")
            if let age = maxAge, age < 1 {
                throw t.invalid("topk_residual_max_age", "\(age)", expected: "a number of rounds, at least 1 (leave it out to keep residuals however old)")
            }
        }
        if kind != .topk {
            t.ignore(["topk_fraction", "topk_residual_max_age"], because: "it applies to encoding = \"topk\", not \"\(kind.rawValue)\"")
        }
        try t.finish()
        return (encoding, maxAge)
    }
}
