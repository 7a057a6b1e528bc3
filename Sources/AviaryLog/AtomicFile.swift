import Foundation

/// Writes a file so that readers see either the old or the new content, never a mix: temp file
/// in the same directory, fsync, rename, fsync of the directory. One mechanism for every run
/// file (it is `SafetensorsFileIO.write`, which checkpoints stream through).
public enum AtomicFile {
    /// With `sync: false` the file is replaced atomically but not fsynced (see `SafetensorsFileIO.write`).
    public static func write(_ data: Data, to path: String, sync: Bool = true) throws(RunFileError) {
        do {
            try SafetensorsFileIO.write(path: path, sync: sync) { sink in try data.withUnsafeBytes { try sink($0) } }
        } catch {
            throw .cannotWrite(path: path, reason: "\(error)")
        }
    }
}
