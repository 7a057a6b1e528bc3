import Foundation

/// Writes a file so that readers see either the old or the new content, never a mix:
/// temp file in the same directory, fsync, rename.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws(RunFileError) {
        let dir = (path as NSString).deletingLastPathComponent
        let tmp = (dir.isEmpty ? "." : dir) + "/.\((path as NSString).lastPathComponent).tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: nil) else {
            throw .cannotWrite(path: path, reason: "could not create temporary file \(tmp)")
        }
        do {
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: tmp))
            try h.write(contentsOf: data)
            try h.synchronize()
            try h.close()
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw .cannotWrite(path: path, reason: "\(error)")
        }
        if rename(tmp, path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: tmp)
            throw .cannotWrite(path: path, reason: "rename failed: \(reason)")
        }
    }
}
