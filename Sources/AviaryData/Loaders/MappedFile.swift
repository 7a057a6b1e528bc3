#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only and shared (`MAP_SHARED`): N processes mapping the same cache
/// file share one copy of its pages. Unmapped when the last reference goes.
final class MappedFile: @unchecked Sendable {
    let path: String
    let bytes: UnsafeRawBufferPointer

    /// Maps `path`; nil when it cannot be opened or mapped (the caller rebuilds or falls back).
    init?(path: String) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size > 0 else { return nil }
        let size = Int(info.st_size)
        guard let base = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), base != MAP_FAILED else { return nil }
        self.path = path
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count)
    }
}

/// Small POSIX helpers for the cache: an advisory lock so processes starting together build a
/// cache file once, and an atomic rename.
enum FileLock {
    /// Runs `body` holding an exclusive `flock` on `path` (created if needed); runs it unlocked
    /// when the lock file cannot be opened (correctness does not depend on the lock, only cost).
    static func withExclusiveLock<T>(_ path: String, _ body: () throws -> T) rethrows -> T {
        let fd = open(path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else { return try body() }
        defer { close(fd) }
        _ = flock(fd, LOCK_EX)
        defer { _ = flock(fd, LOCK_UN) }
        return try body()
    }

    /// `rename(2)`: atomic replacement within one file system.
    static func rename(_ from: String, to: String) -> Bool {
        #if canImport(Glibc)
        return Glibc.rename(from, to) == 0
        #else
        return Darwin.rename(from, to) == 0
        #endif
    }

    static var processID: Int32 { getpid() }
}
