import AviaryMath
import Foundation

/// Reads LEAF's JSON files (Caldas et al. 2018): `{"users": [...], "num_samples": [...],
/// "user_data": {user: {"x": [...], "y": [...]}}}`, as LEAF's preprocessing writes them into
/// `data/train/*.json` and `data/test/*.json`. Every sample keeps its user as its owner, so
/// `partition = "natural"` gives one client per writer (FEMNIST) or speaking role (Shakespeare).
public enum LEAFLoader {
    public enum Task: String, Codable, Sendable, Hashable, CaseIterable {
        /// x: 784 pixel values in [0, 1] (28×28, row-major); y: one of 62 classes.
        case femnist
        /// x: a string of 80 characters; y: the next character; both as indices into `shakespeareLetters`.
        case shakespeare

        public var sampleShape: [Int] { self == .femnist ? [1, 28, 28] : [shakespeareContext] }
        public var classes: Int { self == .femnist ? 62 : shakespeareLetters.count }
    }

    /// LEAF's character set (`ALL_LETTERS` in its language utilities): a character's index is its class.
    public static let shakespeareLetters: [Character] = Array("\n !\"&'(),-.0123456789:;>?ABCDEFGHIJKLMNOPQRSTUVWXYZ[]abcdefghijklmnopqrstuvwxyz}")
    /// Characters of context per Shakespeare sample.
    public static let shakespeareContext = 80

    public static let hint =
        "LEAF's data is not downloadable here: run LEAF's preprocess.sh (https://github.com/TalwalkarLab/leaf, e.g. `./preprocess.sh -s niid --sf 1.0 -k 0 -t sample` in data/femnist) and point [data] directory at the data directory holding train/ and test/."

    /// Train and test splits from `directory/train/*.json` and `directory/test/*.json` (files in
    /// name order). Owners number users in order of first appearance in the training files;
    /// test samples of the same user get the same owner.
    public static func load(directory: String, task: Task) throws -> (train: Dataset, test: Dataset) {
        var users: [String: Int32] = [:]
        let base = directory.hasSuffix("/") ? directory : directory + "/"
        let train = try load(files: try jsonFiles(base + "train"), task: task, users: &users)
        let test = try load(files: try jsonFiles(base + "test"), task: task, users: &users)
        return (train, test)
    }

    /// The `.json` files of `directory`, sorted by name.
    static func jsonFiles(_ directory: String) throws -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            throw DatasetError.fileMissing(path: directory, hint: hint)
        }
        let files = names.filter { $0.hasSuffix(".json") }.sorted().map { directory + "/" + $0 }
        guard !files.isEmpty else { throw DatasetError.fileMissing(path: directory + "/*.json", hint: hint) }
        return files
    }

    /// All samples of `files`; `users` maps user names to owner ids and grows as new users appear.
    public static func load(files: [String], task: Task, users: inout [String: Int32]) throws -> Dataset {
        var features: [Float] = [], labels: [Int32] = [], owners: [Int32] = []
        var inRange = true
        for path in files {
            let bytes = try SourceFile.bytes(path, hint: hint)
            try bytes.withUnsafeBufferPointer { buffer in
                var scanner = JSONScanner(path: path, bytes: buffer)
                try readFile(&scanner, task: task, users: &users, features: &features, labels: &labels, owners: &owners,
                             inRange: &inRange)
            }
        }
        guard !labels.isEmpty else { throw DatasetError.empty(path: files.joined(separator: ", ")) }
        return Dataset(features: features, labels: labels, sampleShape: task.sampleShape, classes: task.classes,
                       valueRange: task == .femnist && inRange ? 0...1 : nil, owners: owners)
    }

    private static func readFile(_ s: inout JSONScanner, task: Task, users: inout [String: Int32],
                                 features: inout [Float], labels: inout [Int32], owners: inout [Int32],
                                 inRange: inout Bool) throws {
        var listed: [String] = [], counts: [Int] = [], counted: [String: Int] = [:]
        var sawUserData = false
        try s.object("the document") { s, key in
            switch key {
            case "users":
                try s.array("users") { listed.append(try $0.string("a user name")) }
            case "num_samples":
                try s.array("num_samples") { s in
                    let at = s.offset
                    let n = try s.number("a sample count")
                    guard n >= 0, n == n.rounded() else { throw s.error("num_samples holds \(n), not a count", at: at) }
                    counts.append(Int(n))
                }
            case "user_data":
                sawUserData = true
                try s.object("user_data") { s, user in
                    let owner = users[user] ?? Int32(users.count)
                    users[user] = owner
                    let before = labels.count
                    try readUser(&s, user: user, owner: owner, task: task, features: &features, labels: &labels,
                                 owners: &owners, inRange: &inRange)
                    counted[user, default: 0] += labels.count - before
                }
            default:
                try s.skipValue(key)  // e.g. "hierarchies"
            }
        }
        try s.finish()
        guard sawUserData else { throw s.error("the document has no \"user_data\" member", at: 0) }
        // num_samples is redundant with user_data; a mismatch means a damaged or hand-edited file.
        for (user, n) in zip(listed, counts) where counted[user] != n {
            throw s.error("user \"\(user)\" is listed with \(n) samples but user_data holds \(counted[user] ?? 0)", at: 0)
        }
    }

    private static func readUser(_ s: inout JSONScanner, user: String, owner: Int32, task: Task,
                                 features: inout [Float], labels: inout [Int32], owners: inout [Int32],
                                 inRange: inout Bool) throws {
        var xCount = 0, yCount = 0
        let start = s.offset
        let width = task.sampleShape.reduce(1, *)
        try s.object("user \"\(user)\"") { s, key in
            switch key {
            case "x":
                try s.array("x of user \"\(user)\"") { s in
                    let at = s.offset
                    let before = features.count
                    switch task {
                    case .femnist:
                        try s.array("an image of user \"\(user)\"") { s in
                            let v = Float(try s.number("a pixel"))
                            if v < 0 || v > 1 { inRange = false }
                            features.append(v)
                        }
                    case .shakespeare:
                        for c in try s.string("a context of user \"\(user)\"") { features.append(Float(try index(of: c, s, at: at))) }
                    }
                    guard features.count - before == width else {
                        throw s.error("sample \(xCount) of user \"\(user)\" has \(features.count - before) values, expected \(width)", at: at)
                    }
                    xCount += 1
                }
            case "y":
                try s.array("y of user \"\(user)\"") { s in
                    let at = s.offset
                    switch task {
                    case .femnist:
                        let y = try s.number("a label")
                        guard y >= 0, y < Double(task.classes), y == y.rounded() else {
                            throw s.error("label \(y) of user \"\(user)\" is not a class index below \(task.classes)", at: at)
                        }
                        labels.append(Int32(y))
                    case .shakespeare:
                        let next = try s.string("a label of user \"\(user)\"")
                        guard next.count == 1, let c = next.first else {
                            throw s.error("label \"\(next)\" of user \"\(user)\" is not one character", at: at)
                        }
                        labels.append(Int32(try index(of: c, s, at: at)))
                    }
                    owners.append(owner)
                    yCount += 1
                }
            default:
                try s.skipValue(key)
            }
        }
        guard xCount == yCount else {
            throw s.error("user \"\(user)\" has \(xCount) samples in x but \(yCount) labels in y", at: start)
        }
    }

    private static func index(of c: Character, _ s: JSONScanner, at offset: Int) throws -> Int {
        guard let i = shakespeareLetters.firstIndex(of: c) else {
            throw s.error("character \(String(reflecting: String(c))) is not in LEAF's Shakespeare character set", at: offset)
        }
        return i
    }
}
