import Foundation

/// Writes a file so that readers see either the old or the new content, never a mix: temp file
/// in the same directory, fsync, rename, fsync of the directory. One mechanism for every run
/// file (it is `SafetensorsFileIO.write`, which checkpoints stream through).
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws(RunFileError) {
        do {
            try SafetensorsFileIO.write(path: path) { sink in try sink([UInt8](data)) }
        } catch {
            throw .cannotWrite(path: path, reason: "\(error)")
        }
    }
}
