#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// POSIX file I/O for safetensors (and, through `AtomicFile`, every run file): whole-file reads
/// and atomic replace-by-rename writes, with errno turned into `SafetensorsError.io`.
enum SafetensorsFileIO {
    /// Writes through `body`'s sink into `path.tmp-<pid>` in the same directory, fsyncs it,
    /// renames it over `path` and fsyncs the directory, so readers see the old or the new file,
    /// never a partial one. The temp file is removed on any failure.
    ///
    /// With `sync: false` neither the file nor the directory is fsynced: the rename still makes
    /// the replacement atomic for every process (a kill -9 leaves the old or the new file), but
    /// after a power loss or kernel crash the new file may be missing or empty. The run state
    /// uses it between durability points (docs/LOG.md, "Durability").
    static func write(path: String, sync: Bool = true, _ body: (_ sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let temp = "\(path).tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure(temp, "open") }
        var closed = false
        defer {
            if !closed { close(fd) }
        }
        do {
            try body { bytes in
                var done = 0
                while done < bytes.count {
                    let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw failure(temp, "write")
                    }
                    done += n
                }
            }
            // A crash here leaves a complete-looking temp file and no rename: what resume cleans up.
            FaultInjection.crashPoint("write:" + (path.split(separator: "/").last.map(String.init) ?? path))
            if sync { guard fsync(fd) == 0 else { throw failure(temp, "fsync") } }
            closed = true
            guard close(fd) == 0 else { throw failure(temp, "close") }
            guard rename(temp, path) == 0 else { throw failure(path, "rename") }
        } catch {
            unlink(temp)
            throw error
        }
        if sync { syncDirectory(of: path) }
    }

    /// The whole file's bytes.
    static func readAll(path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(path, "open") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure(path, "stat") }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw SafetensorsError.io(path: path, operation: "open", message: "not a regular file")
        }
        let size = Int(info.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, size - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(path, "read")
            }
            if n == 0 { break }
            done += n
        }
        // The file shrank while we read it: treat as truncated, not as zeros.
        if done < size { bytes.removeSubrange(done...) }
        return bytes
    }

    /// fsyncs an existing file (a durability point for a file written with `sync: false`).
    static func sync(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(path, "open") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw failure(path, "fsync") }
    }

    /// Makes the rename durable; failures are ignored (some filesystems refuse directory fsync).
    static func syncDirectory(of path: String) {
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        syncDirectory(directory)
    }

    /// fsyncs a directory, making the names created or renamed in it durable; failures are ignored.
    static func syncDirectory(_ directory: String) {
        let fd = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
    }

    private static func failure(_ path: String, _ operation: String) -> SafetensorsError {
        .io(path: path, operation: operation, message: String(cString: strerror(errno)))
    }
}
