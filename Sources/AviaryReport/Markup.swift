import Foundation

/// Text and number formatting shared by the SVG and HTML writers. Run and client names come
/// from users, so every piece of text goes through `escape` before it reaches markup.
public enum Markup {
    /// Escapes `& < > " '` so text is safe in element content and in quoted attributes,
    /// for both HTML and (inline or standalone) SVG.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                // Control characters other than tab/newline are not allowed in XML 1.0.
                if ch.value < 0x20 && ch != "\t" && ch != "\n" { out += "\u{FFFD}" } else { out.unicodeScalars.append(ch) }
            }
        }
        return out
    }

    /// A coordinate: at most one decimal, no trailing ".0", locale-independent.
    static func coordinate(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        if r == r.rounded() { return String(Int(r)) }
        return String(format: "%.1f", r)
    }

    /// A value for tables and tooltips: four significant digits, `-` when absent, words for non-finite.
    public static func value(_ v: Double?) -> String {
        guard let v else { return "-" }
        if v.isNaN { return "nan" }
        if v.isInfinite { return v > 0 ? "inf" : "-inf" }
        return String(format: "%.4g", v)
    }

    /// A fixed-decimals value (accuracies and losses in tables), `-` when absent.
    public static func fixed(_ v: Double?, decimals: Int = 4) -> String {
        guard let v else { return "-" }
        if !v.isFinite { return value(v) }
        return String(format: "%.\(decimals)f", v)
    }

    /// Approximate rendered width of `text` at `fontSize` in a sans-serif face; used to keep
    /// titles and legends from overlapping without a font engine.
    static func textWidth(_ text: String, fontSize: Double) -> Double {
        Double(text.count) * fontSize * 0.6
    }
}
