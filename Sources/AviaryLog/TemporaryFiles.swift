import Foundation

/// Leftovers of interrupted atomic writes. `AtomicFile` and `Safetensors.write` write
/// `<file>.tmp-<pid>` beside the target and rename it; a process killed before the rename
/// leaves that file behind. It is never valid data (the rename is what commits a write).
public enum TemporaryFiles {
    /// True for names an atomic write produces: `<name>.tmp-<digits>`, and plain `<name>.tmp`.
    public static func isLeftover(_ name: String) -> Bool {
        if name.hasSuffix(".tmp") { return name.count > 4 }
        guard let range = name.range(of: ".tmp-", options: .backwards), range.lowerBound > name.startIndex else { return false }
        let pid = name[range.upperBound...]
        return !pid.isEmpty && pid.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// Removes leftover temporary files from the run directory itself, `checkpoints/` and
    /// `state/` (not recursively, and never files of this process, whose writes may be in
    /// flight). Returns the removed paths, sorted. Call it only when no other process writes
    /// this run. Missing directories are skipped.
    @discardableResult
    public static func removeLeftovers(in directory: RunDirectory) throws(RunFileError) -> [String] {
        let fm = FileManager.default
        let own = ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        var removed: [String] = []
        for dir in [directory.path, directory.checkpoints, directory.stateDirectory] {
            guard let names = try? fm.contentsOfDirectory(atPath: dir) else { continue }
            for name in names.sorted() where isLeftover(name) && !name.hasSuffix(own) {
                let path = dir + "/" + name
                var isDirectory: ObjCBool = false
                guard fm.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
                do { try fm.removeItem(atPath: path) } catch {
                    throw .cannotWrite(path: path, reason: "could not remove a leftover temporary file: \(error.localizedDescription)")
                }
                removed.append(path)
            }
        }
        return removed
    }
}
