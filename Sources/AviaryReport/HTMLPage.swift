import Foundation

/// A self-contained HTML page (inline CSS and SVG, no scripts, no external assets) and the
/// small table writer the report and comparison share. All cell text is escaped here.
struct HTMLPage {
    var title: String
    private(set) var body = ""

    init(title: String) { self.title = title }

    mutating func heading(_ text: String, level: Int = 2) {
        body += "<h\(level)>\(Markup.escape(text))</h\(level)>\n"
    }

    mutating func paragraph(_ text: String, className: String? = nil) {
        body += "<p\(className.map { " class=\"\($0)\"" } ?? "")>\(Markup.escape(text))</p>\n"
    }

    /// Key/value rows (the run header).
    mutating func facts(_ rows: [(String, String)]) {
        body += "<table class=\"facts\">\n"
        for (k, v) in rows { body += "<tr><th>\(Markup.escape(k))</th><td>\(Markup.escape(v))</td></tr>\n" }
        body += "</table>\n"
    }

    /// A table; a column is right-aligned when all its cells are numbers (or "-"), the first
    /// column and text columns (statuses, paths) are left-aligned, headers alike.
    mutating func table(header: [String], rows: [[String]], footer: [[String]] = []) {
        let text = header.indices.map { c in c == 0 || rows.contains { c < $0.count && !Self.isNumber($0[c]) } }
        func row(_ cells: [String], tag: String) -> String {
            "<tr>" + cells.enumerated().map { c, cell in
                let cls = c < text.count && text[c] ? " class=\"t\"" : ""
                return "<\(tag)\(cls)>\(Markup.escape(cell))</\(tag)>"
            }.joined() + "</tr>\n"
        }
        body += "<table class=\"data\">\n<thead>" + row(header, tag: "th") + "</thead>\n<tbody>\n"
        for r in rows { body += row(r, tag: "td") }
        body += "</tbody>\n"
        if !footer.isEmpty { body += "<tfoot>\n" + footer.map { row($0, tag: "td") }.joined() + "</tfoot>\n" }
        body += "</table>\n"
    }

    /// "0.5", "-", "+0.01", "12.3 s" count as numbers.
    static func isNumber(_ text: String) -> Bool {
        text == "-" || text.split(separator: " ").first.flatMap { Double($0) } != nil
    }

    /// Charts laid out side by side when the window is wide enough.
    mutating func figures(_ svgs: [String]) {
        body += "<div class=\"figures\">\n" + svgs.map { "<figure>\n\($0)</figure>\n" }.joined() + "</div>\n"
    }

    func html() -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>\(Markup.escape(title))</title>
        <style>
        body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1500px; }
        h1 { font-size: 22px; margin-bottom: 8px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
        table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
        th, td { padding: 3px 10px; border-bottom: 1px solid #eee; }
        table.facts th { text-align: left; color: #555; font-weight: normal; }
        table.data th { background: #f4f4f4; text-align: right; } table.data td { text-align: right; font-variant-numeric: tabular-nums; }
        table.data .t { text-align: left; }
        tfoot td { font-weight: bold; border-top: 1px solid #bbb; }
        .figures { display: flex; flex-wrap: wrap; gap: 16px; } figure { margin: 0; }
        .note { color: #666; font-size: 13px; } .warn { color: #a33; font-size: 13px; }
        </style>
        </head>
        <body>
        \(body)</body>
        </html>

        """
    }
}
