import AviaryProtocol

extension Topology {
    enum EncodingKind: String, CaseIterable { case f32, f16, int8, topk }

    /// `[compression]`: how clients encode their UPDATE deltas (docs/TOPOLOGY.md).
    ///
    ///     encoding = "topk"            # "f32" (default), "f16", "int8" or "topk"
    ///     topk_fraction = 0.01         # topk only: share of the parameters sent each round
    ///     topk_residual_max_age = 20   # topk only: drop error-feedback residuals older than this many rounds
    ///     rounding = "stochastic"      # int8 only: "nearest" (default) or "stochastic" (unbiased)
    ///     error_feedback = true        # f16 and int8: carry what the encoding lost into the next round
    static func parseCompression(_ t: TableReader) throws(TopologyError)
        -> (encoding: DeltaEncoding, residualMaxAge: Int?, quantisation: QuantisationOptions?) {
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
        let rounding = try t.choice("rounding", default: QuantisationOptions.Rounding.nearest)
        let feedback = try t.bool("error_feedback", default: false)
        var quantisation: QuantisationOptions? = nil
        if kind == .int8 || kind == .f16 {
            if kind == .f16 && rounding == .stochastic {
                throw t.invalid("rounding", "\"stochastic\"", expected: "\"nearest\" for encoding = \"f16\" (stochastic rounding is offered for int8)")
            }
            if rounding != .nearest || feedback { quantisation = QuantisationOptions(rounding: rounding, errorFeedback: feedback) }
        } else {
            t.ignore(["rounding", "error_feedback"], because: "it applies to encoding = \"int8\" or \"f16\", not \"\(kind.rawValue)\"")
        }
        try t.finish()
        return (encoding, maxAge, quantisation)
    }
}
