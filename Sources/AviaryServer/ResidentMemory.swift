#if canImport(Glibc)
import Glibc
#endif

/// Resident memory of a process, from Linux `/proc/<pid>/statm`; nil elsewhere or when the
/// process is gone. Used for the server's per-round memory and `aviary run`'s peak figures.
public enum ResidentMemory {
    /// Bytes resident for `pid`, or for this process when nil.
    public static func bytes(pid: Int32? = nil) -> Int? {
        let path = "/proc/" + (pid.map(String.init) ?? "self") + "/statm"
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = fread(&buffer, 1, buffer.count, file)
        // statm: size resident shared text lib data dt, in pages.
        let fields = String(decoding: buffer[0..<n], as: UTF8.self).split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
