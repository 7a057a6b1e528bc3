import Foundation
import Testing
@testable import AviaryData

/// LEAF JSON written by the tests in the real layout (`users`, `num_samples`, `user_data`,
/// plus `hierarchies`, which LEAF's Shakespeare files carry and the loader skips).
enum LEAFFixture {
    static func femnist(_ users: [(String, [Int])]) -> String {
        let data = users.map { name, labels in
            let xs = labels.indices.map { i in "[" + (0..<784).map { j in j == i ? "0.5" : (j % 3 == 0 ? "1.0" : "0") }.joined(separator: ", ") + "]" }
            return "\"\(name)\": {\"x\": [\(xs.joined(separator: ", "))], \"y\": [\(labels.map(String.init).joined(separator: ", "))]}"
        }
        return "{\"users\": [\(users.map { "\"\($0.0)\"" }.joined(separator: ", "))], \"num_samples\": [\(users.map { String($0.1.count) }.joined(separator: ", "))], \"user_data\": {\(data.joined(separator: ", "))}}"
    }

    static func shakespeare(_ users: [(String, [(String, String)])]) -> String {
        func quote(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n") + "\""
        }
        let data = users.map { name, samples in
            "\(quote(name)): {\"x\": [\(samples.map { quote($0.0) }.joined(separator: ", "))], \"y\": [\(samples.map { quote($0.1) }.joined(separator: ", "))]}"
        }
        return "{\"users\": [\(users.map { quote($0.0) }.joined(separator: ", "))], \"hierarchies\": [\"A\", \"B\"], \"num_samples\": [\(users.map { String($0.1.count) }.joined(separator: ", "))], \"user_data\": {\(data.joined(separator: ", "))}}"
    }

    /// An 80-character context.
    static func context(_ seed: Int) -> String {
        String((0..<80).map { LEAFLoader.shakespeareLetters[($0 * 7 + seed) % LEAFLoader.shakespeareLetters.count] })
    }

    static func directory(train: [String], test: [String]) throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.path + "/train", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.path + "/test", withIntermediateDirectories: true)
        for (i, text) in train.enumerated() { try dir.write("train/all_data_\(i)_niid_0_keep_0_train_9.json", text: text) }
        for (i, text) in test.enumerated() { try dir.write("test/all_data_\(i)_niid_0_keep_0_test_9.json", text: text) }
        return dir
    }
}

@Suite struct LEAFLoaderTests {
    @Test func femnistKeepsWritersAsOwnersAcrossFilesAndSplits() throws {
        let dir = try LEAFFixture.directory(
            train: [LEAFFixture.femnist([("f0001_41", [3, 61]), ("f0002_07", [0])]), LEAFFixture.femnist([("f0003_12", [5, 5, 9])])],
            test: [LEAFFixture.femnist([("f0002_07", [1]), ("f0001_41", [60])])])
        let (train, test) = try LEAFLoader.load(directory: dir.path, task: .femnist)
        #expect(train.count == 6 && test.count == 2)
        #expect(train.labels == [3, 61, 0, 5, 5, 9])
        #expect(train.owners == [0, 0, 1, 2, 2, 2])
        #expect(test.owners == [1, 0])
        #expect(train.sampleShape == [1, 28, 28] && train.classes == 62 && train.valueRange == 0...1)
        let x = train.features
        #expect(x[0] == 0.5 && x[1] == 0 && x[3] == 1 && x[784 + 1] == 0.5)
        // partition = "natural": one client per writer.
        let partition = try PartitionSpec.natural.partition(labels: train.labels, owners: train.owners, classes: 62, clients: 3, seed: 1)
        #expect(partition.clientIndices == [[0, 1], [2], [3, 4, 5]])
    }

    @Test func shakespeareMapsCharactersToLEAFIndices() throws {
        let a = LEAFFixture.context(1), b = LEAFFixture.context(2)
        let dir = try LEAFFixture.directory(
            train: [LEAFFixture.shakespeare([("THE_TEMPEST_PROSPERO", [(a, "e"), (b, "\n")]), ("HAMLET_\"OPHELIA\"", [(a, "}")])])],
            test: [LEAFFixture.shakespeare([("HAMLET_\"OPHELIA\"", [(b, " ")])])])
        let (train, test) = try LEAFLoader.load(directory: dir.path, task: .shakespeare)
        let letters = LEAFLoader.shakespeareLetters
        #expect(letters.count == 80 && train.classes == 80 && train.sampleShape == [80])
        #expect(train.labels == [Int32(letters.firstIndex(of: "e")!), 0, 79])
        #expect(test.labels == [1] && test.owners == [1])
        #expect(Array(train.features.prefix(80)) == a.map { Float(letters.firstIndex(of: $0)!) })
        #expect(train.valueRange == nil)
    }

    /// Cuts a valid file at several points; each must be an error naming the file and an offset
    /// inside it, never a crash or a silently shorter dataset.
    @Test func truncatedJSONNamesFileAndOffset() throws {
        let text = LEAFFixture.femnist([("w1", [1, 2]), ("w2", [3])])
        for cut in [1, 40, text.utf8.count / 2, text.utf8.count - 3, text.utf8.count - 1] {
            let dir = try LEAFFixture.directory(train: [String(text.utf8.prefix(cut))!], test: [text])
            do {
                _ = try LEAFLoader.load(directory: dir.path, task: .femnist)
                Issue.record("cut at \(cut): expected an error")
            } catch let DatasetError.corruptRecord(path, offset, problem) {
                #expect(path.hasSuffix("train/all_data_0_niid_0_keep_0_train_9.json"))
                #expect(offset <= cut, "cut at \(cut): offset \(offset)")
                #expect(problem.contains("truncated") || problem.contains("expected"), "\(problem)")
            }
        }
    }

    @Test(arguments: [
        // (what is wrong, text, offset of the error, words of the message)
        ("a letter inside a number", #"{"users": ["u"], "num_samples": [1], "user_data": {"u": {"x": [[0.5x]], "y": [1]}}}"#, 67, "expected ',' or ']'"),
        ("a label out of range", #"{"users": ["u"], "num_samples": [1], "user_data": {"u": {"x": [], "y": [62]}}}"#, 72, "not a class index"),
        ("a short image", #"{"users": ["u"], "num_samples": [1], "user_data": {"u": {"x": [[0.5, 1]], "y": [1]}}}"#, 63, "has 2 values, expected 784"),
        ("counts that disagree", #"{"users": ["u"], "num_samples": [1], "user_data": {"u": {"x": [], "y": []}}}"#, 0, "listed with 1 samples"),
        ("trailing garbage", #"{"users": [], "num_samples": [], "user_data": {}} x"#, 50, "after the end"),
        ("no user_data", #"{"users": []}"#, 0, "no \"user_data\""),
    ])
    func corruptJSONNamesFileOffsetAndProblem(_ what: String, _ text: String, _ offset: Int, _ words: String) throws {
        let dir = try LEAFFixture.directory(train: [text], test: [text])
        do {
            _ = try LEAFLoader.load(directory: dir.path, task: .femnist)
            Issue.record("\(what): expected an error")
        } catch let DatasetError.corruptRecord(path, at, problem) {
            #expect(path.hasSuffix("_train_9.json"), "\(what)")
            #expect(at == offset, "\(what): offset \(at), expected \(offset)")
            #expect(problem.contains(words), "\(what): \(problem)")
        }
    }

    @Test func unknownCharacterAndMissingDirectoryAreNamed() throws {
        let dir = try LEAFFixture.directory(train: [LEAFFixture.shakespeare([("u", [(String(repeating: "é", count: 80), "a")])])], test: [])
        #expect(throws: DatasetError.self) { try LEAFLoader.load(directory: dir.path, task: .shakespeare) }
        do {
            _ = try LEAFLoader.load(directory: dir.path + "/nowhere", task: .femnist)
            Issue.record("expected an error")
        } catch let DatasetError.fileMissing(path, hint) {
            #expect(path.hasSuffix("nowhere/train") && hint.contains("preprocess.sh"))
        }
    }
}
