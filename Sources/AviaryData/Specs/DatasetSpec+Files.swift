import Foundation

extension DatasetSpec {
    /// The files this dataset reads, each checked to exist as a readable regular file (cheap:
    /// nothing is opened or parsed, so `aviary validate` can run it on every topology).
    /// Empty for generated data; nil for a source this check does not know, so a caller can
    /// say plainly that it did not check.
    public func checkFiles() throws -> [String]? {
        var paths: [String]
        var hint = "check the path"
        if case .synthetic = self {
            return []
        } else if case let .fashionMNIST(directory) = self {
            paths = try IDXLoader.fashionMNISTPaths(directory: directory)
        } else if case let .idx(a, b, c, d) = self {
            (paths, hint) = ([a, b, c, d], IDXLoader.idxHint)
        } else if case let .csv(train, test, _, _) = self {
            paths = [train] + (test.map { [$0] } ?? [])
        } else if case let .npy(trainX, trainY, testX, testY) = self {
            paths = [trainX, trainY] + [testX, testY].compactMap { $0 }
        } else {
            return nil
        }
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw DatasetError.fileMissing(path: path, hint: hint)
            }
            guard !isDirectory.boolValue else { throw DatasetError.unreadable(path: path, reason: "it is a directory, expected a file") }
            guard FileManager.default.isReadableFile(atPath: path) else { throw DatasetError.unreadable(path: path, reason: "permission denied") }
        }
        return paths
    }
}
