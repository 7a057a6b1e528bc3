/// Reads a numeric CSV with a header row: one label column, an optional owner column, and every
/// other column a feature. Owners may be any strings (e.g. LEAF writer ids); they are numbered
/// in order of first appearance. Fields are unquoted numbers; LF or CRLF line ends; blank lines
/// are skipped. Parsing works on bytes (see `DecimalParser`) so image-sized CSVs load quickly.
public enum CSVLoader {
    /// Loads `path`; `classes` nil infers `max label + 1` (callers merging splits fix it afterwards).
    public static func load(path: String, labelColumn: String, ownerColumn: String?,
                            classes: Int? = nil) throws -> Dataset {
        let bytes = try SourceFile.bytes(path)
        var header: [String]?
        var labelIndex = 0, ownerIndex: Int?
        var isFeature: [Bool] = []
        var featureCount = 0
        var features: [Float] = [], labels: [Int32] = [], owners: [Int32] = []
        var ownerIDs: [String: Int32] = [:]
        var fields: [Range<Int>] = []

        try bytes.withUnsafeBufferPointer { b in
            var lineStart = 0, lineNumber = 0
            while lineStart < b.count {
                var lineEnd = lineStart
                while lineEnd < b.count && b[lineEnd] != 0x0A { lineEnd += 1 }
                lineNumber += 1
                defer { lineStart = lineEnd + 1 }
                var end = lineEnd
                if end > lineStart && b[end - 1] == 0x0D { end -= 1 }
                if (lineStart..<end).allSatisfy({ b[$0] == 0x20 || b[$0] == 0x09 }) { continue }

                fields.removeAll(keepingCapacity: true)
                var fieldStart = lineStart
                for i in lineStart...end where i == end || b[i] == 0x2C {
                    fields.append(trimmed(b, fieldStart..<i))
                    fieldStart = i + 1
                }
                func text(_ r: Range<Int>) -> String {
                    var s = String(decoding: UnsafeBufferPointer(rebasing: b[r]), as: UTF8.self)
                    if s.count >= 2, s.first == "\"", s.last == "\"" { s = String(s.dropFirst().dropLast()) }
                    return s
                }

                guard let columns = header else {
                    let names = fields.map(text)
                    guard let li = names.firstIndex(of: labelColumn) else {
                        throw DatasetError.missingCSVColumn(path: path, column: labelColumn, header: names)
                    }
                    labelIndex = li
                    if let ownerColumn {
                        guard let oi = names.firstIndex(of: ownerColumn) else {
                            throw DatasetError.missingCSVColumn(path: path, column: ownerColumn, header: names)
                        }
                        ownerIndex = oi
                    }
                    isFeature = names.indices.map { $0 != labelIndex && $0 != ownerIndex }
                    featureCount = isFeature.filter { $0 }.count
                    header = names
                    continue
                }
                guard fields.count == columns.count else {
                    throw DatasetError.raggedCSVRow(path: path, line: lineNumber, expected: columns.count, found: fields.count)
                }
                let labelField = fields[labelIndex]
                guard let labelValue = DecimalParser.parse(b, labelField), labelValue == labelValue.rounded(),
                      labelValue.magnitude < Double(Int32.max) else {
                    throw DatasetError.badCSVValue(path: path, line: lineNumber, column: labelColumn, value: text(labelField))
                }
                if labelValue < 0 || (classes != nil && Int(labelValue) >= classes!) {
                    throw DatasetError.labelOutOfRange(path: path, sample: labels.count, label: Int64(labelValue),
                                                       classes: classes ?? Int(Int32.max))
                }
                labels.append(Int32(labelValue))
                if let ownerIndex {
                    let key = text(fields[ownerIndex])
                    if let id = ownerIDs[key] {
                        owners.append(id)
                    } else {
                        let id = Int32(ownerIDs.count)
                        ownerIDs[key] = id
                        owners.append(id)
                    }
                }
                for (c, field) in fields.enumerated() where isFeature[c] {
                    guard let v = DecimalParser.parse(b, field), v.isFinite else {
                        throw DatasetError.badCSVValue(path: path, line: lineNumber, column: columns[c], value: text(field))
                    }
                    features.append(Float(v))
                }
            }
        }
        guard header != nil, !labels.isEmpty else { throw DatasetError.empty(path: path) }
        return Dataset(features: features, labels: labels, sampleShape: [featureCount],
                       classes: classes ?? Int(labels.max()!) + 1, valueRange: nil,
                       owners: ownerIndex == nil ? nil : owners)
    }

    /// `range` without leading and trailing spaces and tabs.
    static func trimmed(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Range<Int> {
        var lo = range.lowerBound, hi = range.upperBound
        while lo < hi && (b[lo] == 0x20 || b[lo] == 0x09) { lo += 1 }
        while hi > lo && (b[hi - 1] == 0x20 || b[hi - 1] == 0x09) { hi -= 1 }
        return lo..<hi
    }
}
