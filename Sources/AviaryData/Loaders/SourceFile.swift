import AviaryMath
import Foundation

/// Reads whole files, transparently inflating gzip, and maps I/O failures to `DatasetError`.
enum SourceFile {
    /// The bytes of `path`, inflated when they carry the gzip magic number.
    static func bytes(_ path: String, hint: String = "check the path") throws -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DatasetError.fileMissing(path: path, hint: hint)
        }
        guard !isDirectory.boolValue else {
            throw DatasetError.unreadable(path: path, reason: "it is a directory, expected a file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DatasetError.unreadable(path: path, reason: "permission denied or I/O error")
        }
        let raw = [UInt8](data)
        guard Gzip.isGzip(raw) else { return raw }
        do {
            return try Gzip.decompress(raw)
        } catch let error as GzipError {
            throw DatasetError.unreadable(path: path, reason: error.description)
        }
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
}
