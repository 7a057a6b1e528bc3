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

    /// A table; columns after the first are right-aligned numbers.
    mutating func table(header: [String], rows: [[String]], footer: [[String]] = []) {
        body += "<table class=\"data\">\n<thead><tr>" + header.map { "<th>\(Markup.escape($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
        for r in rows { body += "<tr>" + r.map { "<td>\(Markup.escape($0))</td>" }.joined() + "</tr>\n" }
        body += "</tbody>\n"
        if !footer.isEmpty {
            body += "<tfoot>\n"
            for r in footer { body += "<tr>" + r.map { "<td>\(Markup.escape($0))</td>" }.joined() + "</tr>\n" }
            body += "</tfoot>\n"
        }
        body += "</table>\n"
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
        table.data th:first-child, table.data td:first-child { text-align: left; }
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
