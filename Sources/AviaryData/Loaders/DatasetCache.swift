import AviaryMath
import Foundation

/// A compact, memory-mapped copy of an IDX dataset (Fashion-MNIST, MNIST): pixels stay UInt8
/// (scaled to Float32 per batch), labels UInt8. Decoded once into a cache file, then mapped
/// read-only by every process, so N client processes on one machine cost about one dataset.
///
/// File layout (little-endian): an 8-byte magic, format version, header length, file size,
/// shape, counts, CRC-32 of the payload and of the header, then the identity of the source
/// files (path, size, mtime, CRC-32 of the file's bytes as stored, i.e. compressed); the
/// payload (train pixels, test pixels, train labels, test labels) starts at a page boundary.
/// A file that is short, has a bad header or checksum, or whose sources changed is reported
/// in a note and rebuilt, never trusted. Files are written to a temporary name and renamed.
enum DatasetCache {
    static let magic: [UInt8] = Array("AVIARYDC".utf8)
    static let version: UInt32 = 1
    static let fixedHeaderBytes = 64
    static let alignment = 4096

    /// The cache directory: `AVIARY_CACHE_DIR`, else `$XDG_CACHE_HOME/aviary`, else `~/.cache/aviary`.
    static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let dir = environment["AVIARY_CACHE_DIR"], !dir.isEmpty { return dir }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/aviary" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.cache/aviary"
    }

    /// The two IDX splits, mapped from the cache in `directory` (built first when missing or
    /// invalid). Falls back to in-memory bytes (with a note) when the directory is not writable.
    static func loadIDX(trainImages: String, trainLabels: String, testImages: String, testLabels: String,
                        classes: Int?, hint: String, directory: String,
                        notes: inout [String]) throws -> (train: Dataset, test: Dataset) {
        let paths = [trainImages, trainLabels, testImages, testLabels]
        for p in paths where !SourceFile.exists(p) { throw DatasetError.fileMissing(path: p, hint: hint) }
        let identity = try sourceIdentity(paths, classes: classes)
        let name = "idx-" + hex(CRC32.checksum(Array(paths.map(absolute).joined(separator: "\n").utf8))) + ".cache"
        let path = directory + "/" + name
        if let mapped = try? validMapping(path, identity: identity) {
            return datasets(mapped)
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            notes.append("dataset cache: cannot create \(directory) (\(error.localizedDescription)); decoded in memory instead")
            return try IDXLoader.loadSplits(trainImages: trainImages, trainLabels: trainLabels, testImages: testImages,
                                            testLabels: testLabels, classes: classes, hint: hint)
        }
        return try FileLock.withExclusiveLock(path + ".lock") {
            // Another process may have built it while this one waited for the lock.
            var problem = "missing"
            do {
                return datasets(try validMapping(path, identity: identity))
            } catch let reason as CacheProblem {
                problem = reason.text
            }
            if problem != "missing" { notes.append("dataset cache \(path) was \(problem); rebuilt it") }
            let bytes = try build(paths: paths, classes: classes, hint: hint, identity: identity)
            let temporary = directory + "/." + name + ".tmp.\(FileLock.processID).\(UInt32.random(in: 0...UInt32.max))"
            guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)),
                  FileLock.rename(temporary, to: path) else {
                try? FileManager.default.removeItem(atPath: temporary)
                notes.append("dataset cache: cannot write \(path); decoded in memory instead")
                return try IDXLoader.loadSplits(trainImages: trainImages, trainLabels: trainLabels, testImages: testImages,
                                                testLabels: testLabels, classes: classes, hint: hint)
            }
            return datasets(try validMapping(path, identity: identity))
        }
    }

    /// Why a cache file was not used.
    struct CacheProblem: Error { var text: String }

    /// A validated mapping and the header fields the datasets need.
    struct Mapped {
        var file: MappedFile
        var rows: Int, cols: Int, classes: Int, trainCount: Int, testCount: Int, headerBytes: Int
    }

    /// Maps `path` and checks everything; throws `CacheProblem` saying what is wrong.
    static func validMapping(_ path: String, identity: [UInt8]) throws -> Mapped {
        guard SourceFile.exists(path) else { throw CacheProblem(text: "missing") }
        guard let file = MappedFile(path: path) else { throw CacheProblem(text: "unreadable or empty") }
        let b = file.bytes
        guard b.count >= fixedHeaderBytes, Array(b[0..<8]) == magic else { throw CacheProblem(text: "not a cache file (bad magic)") }
        guard u32(b, 8) == version else { throw CacheProblem(text: "format version \(u32(b, 8)), expected \(version)") }
        let headerBytes = Int(u32(b, 12))
        guard Int(u64(b, 16)) == b.count else { throw CacheProblem(text: "truncated (header says \(u64(b, 16)) bytes, file has \(b.count))") }
        guard headerBytes >= fixedHeaderBytes + identity.count, headerBytes <= b.count else {
            throw CacheProblem(text: "corrupt (header length \(headerBytes))")
        }
        var header = Array(b[0..<(fixedHeaderBytes + identity.count)])
        let storedHeaderCRC = u32(b, 60)
        for i in 60..<64 { header[i] = 0 }
        guard CRC32.checksum(header) == storedHeaderCRC else {
            // A different identity length also lands here: the header CRC covers it.
            throw Array(b[fixedHeaderBytes..<min(b.count, fixedHeaderBytes + identity.count)]) == identity
                ? CacheProblem(text: "corrupt (header checksum mismatch)") : CacheProblem(text: "stale (source files changed)")
        }
        guard Array(b[fixedHeaderBytes..<(fixedHeaderBytes + identity.count)]) == identity else {
            throw CacheProblem(text: "stale (source files changed)")
        }
        let rows = Int(u32(b, 24)), cols = Int(u32(b, 28)), classes = Int(u32(b, 32))
        let trainCount = Int(u64(b, 40)), testCount = Int(u64(b, 48))
        let payload = (trainCount + testCount) * (rows * cols + 1)
        guard headerBytes + payload == b.count else { throw CacheProblem(text: "corrupt (payload size does not match the shape)") }
        let body = UnsafeRawBufferPointer(rebasing: b[headerBytes...])
        guard CRC32.checksum(body) == u32(b, 56) else { throw CacheProblem(text: "corrupt (payload checksum mismatch)") }
        return Mapped(file: file, rows: rows, cols: cols, classes: classes, trainCount: trainCount,
                      testCount: testCount, headerBytes: headerBytes)
    }

    /// Train and test datasets over the mapping (labels widened to Int32 in memory: 4 bytes a sample).
    static func datasets(_ m: Mapped) -> (train: Dataset, test: Dataset) {
        let width = m.rows * m.cols
        let base = m.file.bytes.baseAddress! + m.headerBytes
        let labelBase = base + (m.trainCount + m.testCount) * width
        func make(pixels: UnsafeRawPointer, labels: UnsafeRawPointer, count: Int) -> Dataset {
            let l = labels.assumingMemoryBound(to: UInt8.self)
            let storage = SampleStorage(element: .uint8(scale: IDXLoader.pixelScale), base: pixels,
                                        labels: (0..<count).map { Int32(l[$0]) }, width: width, keepAlive: m.file)
            return Dataset(samples: SampleView(storage: storage), sampleShape: [1, m.rows, m.cols],
                           classes: m.classes, valueRange: 0...1)
        }
        return (make(pixels: base, labels: labelBase, count: m.trainCount),
                make(pixels: base + m.trainCount * width, labels: labelBase + m.trainCount, count: m.testCount))
    }

    /// Decodes the IDX files and lays out a complete cache file.
    static func build(paths: [String], classes: Int?, hint: String, identity: [UInt8]) throws -> [UInt8] {
        let train = try IDXLoader.decodePair(images: paths[0], labels: paths[1], classes: classes, hint: hint)
        let test = try IDXLoader.decodePair(images: paths[2], labels: paths[3], classes: classes, hint: hint)
        guard train.rows == test.rows, train.cols == test.cols else {
            throw DatasetError.shapeMismatch(path: paths[2], problem: "test images are [1, \(test.rows), \(test.cols)], train images [1, \(train.rows), \(train.cols)]; use images of the same size")
        }
        let resolvedClasses = classes ?? Int(max(train.labels.max() ?? 0, test.labels.max() ?? 0)) + 1
        let headerBytes = (fixedHeaderBytes + identity.count + alignment - 1) / alignment * alignment
        var out = [UInt8](repeating: 0, count: headerBytes)
        out.reserveCapacity(headerBytes + train.pixelCount + test.pixelCount + train.count + test.count)
        out.append(contentsOf: train.imageFile[train.pixelOffset..<(train.pixelOffset + train.pixelCount)])
        out.append(contentsOf: test.imageFile[test.pixelOffset..<(test.pixelOffset + test.pixelCount)])
        out.append(contentsOf: train.labels)
        out.append(contentsOf: test.labels)
        let payloadCRC = out.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[headerBytes...])) }
        out.replaceSubrange(0..<8, with: magic)
        put32(&out, 8, version); put32(&out, 12, UInt32(headerBytes)); put64(&out, 16, UInt64(out.count))
        put32(&out, 24, UInt32(train.rows)); put32(&out, 28, UInt32(train.cols)); put32(&out, 32, UInt32(resolvedClasses))
        put64(&out, 40, UInt64(train.count)); put64(&out, 48, UInt64(test.count)); put32(&out, 56, payloadCRC)
        out.replaceSubrange(fixedHeaderBytes..<(fixedHeaderBytes + identity.count), with: identity)
        put32(&out, 60, CRC32.checksum(Array(out[0..<(fixedHeaderBytes + identity.count)])))
        return out
    }

    /// Path, size, mtime and CRC-32 (of the bytes as stored) of every source, plus the requested class count.
    static func sourceIdentity(_ paths: [String], classes: Int?) throws -> [UInt8] {
        var out: [UInt8] = []
        put64(&out, nil, UInt64(bitPattern: Int64(classes ?? -1)))
        for p in paths {
            let attributes = try? FileManager.default.attributesOfItem(atPath: p)
            let size = (attributes?[.size] as? NSNumber)?.uint64Value ?? 0
            let mtime = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            let pathBytes = Array(absolute(p).utf8)
            put32(&out, nil, UInt32(pathBytes.count))
            out += pathBytes
            put64(&out, nil, size)
            put64(&out, nil, mtime.bitPattern)
            put32(&out, nil, try fileCRC(p))
        }
        return out
    }

    /// CRC-32 of a file's bytes, read in 1 MiB chunks (no whole-file copy in memory).
    static func fileCRC(_ path: String) throws -> UInt32 {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw DatasetError.unreadable(path: path, reason: "permission denied or I/O error")
        }
        defer { try? handle.close() }
        var crc: UInt32 = 0
        while true {
            let chunk = handle.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            crc = chunk.withUnsafeBytes { CRC32.checksum($0, initial: crc) }
        }
        return crc
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    private static func u32(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[at + $1]) << (8 * UInt32($1)) }
    }

    private static func u64(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) }
    }

    /// Writes little-endian at `at`, or appends when `at` is nil.
    private static func put32(_ out: inout [UInt8], _ at: Int?, _ v: UInt32) {
        let bytes = (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) }
        if let at { out.replaceSubrange(at..<(at + 4), with: bytes) } else { out += bytes }
    }

    private static func put64(_ out: inout [UInt8], _ at: Int?, _ v: UInt64) {
        let bytes = (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) }
        if let at { out.replaceSubrange(at..<(at + 8), with: bytes) } else { out += bytes }
    }

    private static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, 8 - s.count)) + s
    }
}
