/// Parses ASCII decimal numbers (`-12`, `0.5`, `3e-4`) straight from bytes.
///
/// Fast path: up to 19 significant digits and a decimal exponent within ±22 are exact in
/// Double arithmetic up to one final rounding, so the result is the correctly rounded Double
/// (and within one Float ulp after conversion). Anything else (more digits, large exponents,
/// `inf`, `nan`, hex) goes through the standard library's parser.
enum DecimalParser {
    private static let powers: [Double] = (0...22).map { p in (0..<p).reduce(1.0) { r, _ in r * 10 } }

    static func parse(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Double? {
        var i = range.lowerBound
        let end = range.upperBound
        guard i < end else { return nil }
        var negative = false
        if b[i] == 0x2D || b[i] == 0x2B { negative = b[i] == 0x2D; i += 1 }
        var mantissa: UInt64 = 0, digits = 0, exponent = 0, sawDigit = false
        while i < end, b[i] &- 0x30 < 10 {
            if digits < 19 { mantissa = mantissa * 10 + UInt64(b[i] &- 0x30); if mantissa > 0 { digits += 1 } } else { exponent += 1 }
            sawDigit = true; i += 1
        }
        if i < end, b[i] == 0x2E {
            i += 1
            while i < end, b[i] &- 0x30 < 10 {
                if digits < 19 { mantissa = mantissa * 10 + UInt64(b[i] &- 0x30); if mantissa > 0 { digits += 1 }; exponent -= 1 }
                sawDigit = true; i += 1
            }
        }
        if sawDigit, i < end, b[i] == 0x65 || b[i] == 0x45 {
            i += 1
            var expNegative = false
            if i < end, b[i] == 0x2D || b[i] == 0x2B { expNegative = b[i] == 0x2D; i += 1 }
            var e = 0, sawExpDigit = false
            while i < end, b[i] &- 0x30 < 10 { e = min(e * 10 + Int(b[i] &- 0x30), 100_000); sawExpDigit = true; i += 1 }
            guard sawExpDigit else { return fallback(b, range) }
            exponent += expNegative ? -e : e
        }
        guard sawDigit, i == end, mantissa < (1 << 53),
              exponent >= -22, exponent <= 22 else { return fallback(b, range) }
        let magnitude = exponent >= 0 ? Double(mantissa) * powers[exponent] : Double(mantissa) / powers[-exponent]
        return negative ? -magnitude : magnitude
    }

    private static func fallback(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Double? {
        Double(String(decoding: UnsafeBufferPointer(rebasing: b[range]), as: UTF8.self))
    }
}
