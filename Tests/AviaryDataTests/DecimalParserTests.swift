import AviaryMath
import Testing
@testable import AviaryData

@Suite struct DecimalParserTests {
    func parse(_ s: String) -> Double? {
        let bytes = Array(s.utf8)
        return bytes.withUnsafeBufferPointer { DecimalParser.parse($0, 0..<bytes.count) }
    }

    @Test func handWrittenCases() {
        #expect(parse("0") == 0 && parse("-12") == -12 && parse("+3.5") == 3.5)
        #expect(parse("1e3") == 1000 && parse("2.5E-2") == 0.025 && parse("7.") == 7 && parse(".5") == 0.5)
        #expect(parse("") == nil && parse("-") == nil && parse("1e") == nil && parse("1.2.3") == nil && parse("abc") == nil)
        #expect(parse("1e300") == 1e300)                  // exponent outside the fast path
        #expect(parse("123456789012345678901234") == 123456789012345678901234.0)
        #expect(parse("nan")!.isNaN && parse("inf") == .infinity)
    }

    @Test func agreesWithTheStandardLibrary() {
        var rng = RandomStream(seed: 4, purpose: .other, index: 0)
        for _ in 0..<20_000 {
            let v = (rng.nextDouble() - 0.5) * Double(1 << rng.nextInt(below: 40)) * [1, 1e-7, 1e5][rng.nextInt(below: 3)]
            for text in [String(v), String(Float(v)), String(Int(v))] {
                #expect(parse(text) == Double(text), "\(text)")
            }
        }
    }
}
