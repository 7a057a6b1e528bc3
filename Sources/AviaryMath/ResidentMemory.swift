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
        var size = 0, resident = 0
        guard fscanfTwo(file, &size, &resident) else { return nil }
        return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    private static func fscanfTwo(_ file: UnsafeMutablePointer<FILE>, _ a: inout Int, _ b: inout Int) -> Bool {
        var buffer = [CChar](repeating: 0, count: 256)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return false }
        let fields = String(cString: buffer).split(separator: " ")
        guard fields.count > 1, let x = Int(fields[0]), let y = Int(fields[1]) else { return false }
        a = x; b = y
        return true
    }
}
