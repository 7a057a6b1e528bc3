/// Reads a numeric CSV with a header row: one label column, an optional owner column, and every
/// other column a feature. Owners may be any strings (e.g. LEAF writer ids); they are numbered
/// in order of first appearance.
public enum CSVLoader {
    /// Loads `path`; `classes` nil infers `max label + 1` (callers merging splits fix it afterwards).
    public static func load(path: String, labelColumn: String, ownerColumn: String?,
                            classes: Int? = nil) throws -> Dataset {
        let bytes = try SourceFile.bytes(path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw DatasetError.unreadable(path: path, reason: "not valid UTF-8 text")
        }
        // "\r\n" is one Character in Swift, so it must be a separator of its own.
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .enumerated().makeIterator()
        var header: [String]?
        var labelIndex = 0, ownerIndex: Int?
        var featureColumns: [Int] = []
        var features: [Float] = [], labels: [Int32] = [], owners: [Int32] = []
        var ownerIDs: [Substring: Int32] = [:]

        while let (number, line) = lines.next() {
            let lineNumber = number + 1
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard let columns = header else {
                let names = fields.map { String($0.trimmingSpaces().trimmingQuotes()) }
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
                featureColumns = names.indices.filter { $0 != labelIndex && $0 != ownerIndex }
                header = names
                continue
            }
            guard fields.count == columns.count else {
                throw DatasetError.raggedCSVRow(path: path, line: lineNumber, expected: columns.count, found: fields.count)
            }
            let labelText = fields[labelIndex].trimmingSpaces()
            guard let labelValue = Double(labelText), labelValue == labelValue.rounded(),
                  labelValue.magnitude < Double(Int32.max) else {
                throw DatasetError.badCSVValue(path: path, line: lineNumber, column: labelColumn, value: String(labelText))
            }
            if labelValue < 0 || (classes != nil && Int(labelValue) >= classes!) {
                throw DatasetError.labelOutOfRange(path: path, sample: labels.count, label: Int64(labelValue),
                                                   classes: classes ?? Int(Int32.max))
            }
            labels.append(Int32(labelValue))
            if let ownerIndex {
                let key = fields[ownerIndex].trimmingSpaces().trimmingQuotes()
                if let id = ownerIDs[key] {
                    owners.append(id)
                } else {
                    let id = Int32(ownerIDs.count)
                    ownerIDs[key] = id
                    owners.append(id)
                }
            }
            for c in featureColumns {
                let field = fields[c].trimmingSpaces()
                guard let v = Float(field), v.isFinite else {
                    throw DatasetError.badCSVValue(path: path, line: lineNumber, column: columns[c], value: String(field))
                }
                features.append(v)
            }
        }
        guard header != nil, !labels.isEmpty else { throw DatasetError.empty(path: path) }
        return Dataset(features: features, labels: labels, sampleShape: [featureColumns.count],
                       classes: classes ?? Int(labels.max()!) + 1, valueRange: nil,
                       owners: ownerIndex == nil ? nil : owners)
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }

    func trimmingQuotes() -> Substring {
        if count >= 2, first == "\"", last == "\"" { return dropFirst().dropLast() }
        return self
    }
}
