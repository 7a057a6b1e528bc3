/// Why a dataset source could not be loaded; every case names the file and the problem.
public enum DatasetError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A file does not exist; `hint` says how to obtain it.
    case fileMissing(path: String, hint: String)
    /// A file exists but could not be read or inflated.
    case unreadable(path: String, reason: String)
    /// An IDX file starts with the wrong magic number (wrong file or wrong kind: images vs labels).
    case badMagic(path: String, expected: UInt32, found: UInt32)
    /// A file is shorter than its header promises.
    case truncated(path: String, expectedBytes: Int, actualBytes: Int)
    /// An image file and its label file disagree on the sample count.
    case countMismatch(images: String, labels: String, imageCount: Int, labelCount: Int)
    /// A label is negative or not below the class count.
    case labelOutOfRange(path: String, sample: Int, label: Int64, classes: Int)
    /// A CSV row has a different number of fields than the header.
    case raggedCSVRow(path: String, line: Int, expected: Int, found: Int)
    /// A CSV field is not a number (or a label is not an integer).
    case badCSVValue(path: String, line: Int, column: String, value: String)
    /// A named CSV column is absent from the header.
    case missingCSVColumn(path: String, column: String, header: [String])
    /// An .npy header is malformed or describes data this loader does not support.
    case badNPYHeader(path: String, problem: String)
    /// Train and test (or x and y) disagree on shape or feature count.
    case shapeMismatch(path: String, problem: String)
    /// A source holds no samples.
    case empty(path: String)
    /// A generator parameter is out of range.
    case invalidParameter(source: String, problem: String)
    /// A file of fixed-size records ends inside a record that starts at `offset`.
    case truncatedRecord(path: String, offset: Int, recordBytes: Int, found: Int)
    /// The record or value at byte `offset` is not what the format allows.
    case corruptRecord(path: String, offset: Int, problem: String)

    public var description: String {
        switch self {
        case .fileMissing(let path, let hint):
            return "dataset file not found: \(path). \(hint)"
        case .unreadable(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .badMagic(let path, let expected, let found):
            return "\(path) is not the expected IDX file: magic number 0x\(hex(found)), expected 0x\(hex(expected)); check that images and labels paths are not swapped"
        case .truncated(let path, let expected, let actual):
            return "\(path) is truncated: header promises \(expected) bytes, file has \(actual); re-download it"
        case .countMismatch(let images, let labels, let ni, let nl):
            return "\(images) holds \(ni) images but \(labels) holds \(nl) labels; pass the matching pair"
        case .labelOutOfRange(let path, let sample, let label, let classes):
            return "\(path): label \(label) of sample \(sample) is outside 0..<\(classes); labels must be class indices"
        case .raggedCSVRow(let path, let line, let expected, let found):
            return "\(path):\(line): row has \(found) fields but the header has \(expected); fix or remove that line"
        case .badCSVValue(let path, let line, let column, let value):
            return "\(path):\(line): column '\(column)' holds '\(value)', which is not a valid number (labels and owners must be integers)"
        case .missingCSVColumn(let path, let column, let header):
            return "\(path): no column named '\(column)'; the header has \(header.joined(separator: ", "))"
        case .badNPYHeader(let path, let problem):
            return "\(path): unsupported or malformed .npy file: \(problem); save it with numpy.save from a C-ordered little-endian array"
        case .shapeMismatch(let path, let problem):
            return "\(path): \(problem)"
        case .empty(let path):
            return "\(path) holds no samples"
        case .invalidParameter(let source, let problem):
            return "\(source): \(problem)"
        case .truncatedRecord(let path, let offset, let recordBytes, let found):
            return "\(path) is truncated at byte offset \(offset): the last record has \(found) of its \(recordBytes) bytes; re-download or re-extract it"
        case .corruptRecord(let path, let offset, let problem):
            return "\(path) at byte offset \(offset): \(problem)"
        }
    }
}

private func hex(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: max(0, 8 - s.count)) + s
}
