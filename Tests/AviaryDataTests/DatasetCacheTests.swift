import Foundation
import Testing
@testable import AviaryData

/// The memory-mapped IDX cache: identical data to the direct loader, built once, and rebuilt
/// (with a note) whenever the file is damaged or the sources changed.
@Suite struct DatasetCacheTests {
    /// Four small IDX files (train 7 × 3×4, test 3 × 3×4), gzipped like Fashion-MNIST's.
    struct Fixture {
        let sources = try! TemporaryDirectory()
        let cache = try! TemporaryDirectory()
        var paths: [String] = []

        init(trainLabels: [UInt8] = [0, 1, 2, 3, 0, 1, 2]) throws {
            paths = [
                try sources.write("train-images.gz", IDXFixture.images(count: 7, rows: 3, cols: 4, pixel: { UInt8(($0 * 37) % 256) }), gzip: true),
                try sources.write("train-labels.gz", IDXFixture.labels(trainLabels), gzip: true),
                try sources.write("test-images", IDXFixture.images(count: 3, rows: 3, cols: 4, pixel: { UInt8(255 - $0) })),
                try sources.write("test-labels", IDXFixture.labels([3, 2, 1])),
            ]
        }

        func load(_ notes: inout [String]) throws -> (train: Dataset, test: Dataset) {
            try DatasetCache.loadIDX(trainImages: paths[0], trainLabels: paths[1], testImages: paths[2], testLabels: paths[3],
                                     classes: nil, hint: "", directory: cache.path, notes: &notes)
        }

        func direct() throws -> (train: Dataset, test: Dataset) {
            try IDXLoader.loadSplits(trainImages: paths[0], trainLabels: paths[1], testImages: paths[2], testLabels: paths[3])
        }

        var cacheFile: String {
            let names = try! FileManager.default.contentsOfDirectory(atPath: cache.path).filter { $0.hasSuffix(".cache") }
            return cache.path + "/" + names[0]
        }
    }

    @Test func cachedDataIsBitIdenticalToTheDirectLoaderAndStaysBytes() throws {
        let f = try Fixture()
        var notes: [String] = []
        let cached = try f.load(&notes), direct = try f.direct()
        #expect(notes.isEmpty)
        #expect(cached.train == direct.train && cached.test == direct.test)
        #expect(cached.train.features.map(\.bitPattern) == direct.train.features.map(\.bitPattern))
        #expect(cached.train.samples.storage.element == .uint8(scale: IDXLoader.pixelScale))
        #expect(cached.train.classes == 4 && cached.test.sampleShape == [1, 3, 4] && cached.test.valueRange == 0...1)
    }

    @Test func secondLoadReusesTheFileWithoutRebuilding() throws {
        let f = try Fixture()
        var notes: [String] = []
        let first = try f.load(&notes)
        let before = try FileManager.default.attributesOfItem(atPath: f.cacheFile)
        let second = try f.load(&notes)
        let after = try FileManager.default.attributesOfItem(atPath: f.cacheFile)
        #expect(notes.isEmpty)
        #expect(before[.systemFileNumber] as? Int == after[.systemFileNumber] as? Int)  // same inode: not rewritten
        #expect(first.train == second.train)
        #expect(try FileManager.default.contentsOfDirectory(atPath: f.cache.path).filter { $0.hasSuffix(".cache") }.count == 1)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/maps"), "needs /proc/self/maps (Linux)"))
    func loadsMapTheSharedCacheFile() throws {
        let f = try Fixture()
        var notes: [String] = []
        let a = try f.load(&notes), b = try f.load(&notes)
        // Read to EOF: /proc files report size 0, so whole-file readers may stop early.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/maps"))
        let maps = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        #expect(maps.split(separator: "\n").filter { $0.hasSuffix(f.cacheFile) }.count >= 2)  // one read-only mapping per load
        #expect(a.train.count == 7 && b.train.count == 7)
    }

    /// Damage applied to a valid cache file, and the word the rebuild note must contain.
    static let damages: [(String, @Sendable (inout [UInt8]) -> Void)] = [
        ("truncated", { $0.removeLast(5) }),
        ("bad magic", { $0[0] = 0x58 }),
        ("header checksum", { $0[25] ^= 0x01 }),        // a shape byte
        ("payload checksum", { $0[$0.count - 20] ^= 0x80 }),  // a pixel
        ("format version", { $0[8] = 9 }),
    ]

    @Test(arguments: damages.indices)
    func damagedCacheIsReportedAndRebuilt(_ which: Int) throws {
        let (word, damage) = Self.damages[which]
        let f = try Fixture()
        var notes: [String] = []
        _ = try f.load(&notes)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: f.cacheFile)))
        damage(&bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: f.cacheFile))
        let reloaded = try f.load(&notes)
        #expect(notes.count == 1 && notes[0].contains("rebuilt") && notes[0].contains(word), "\(notes)")
        let direct = try f.direct()
        #expect(reloaded.train == direct.train && reloaded.test == direct.test)
        var again: [String] = []
        _ = try f.load(&again)
        #expect(again.isEmpty)  // the rebuilt file is valid
    }

    @Test func changedSourceMakesTheCacheStale() throws {
        var f = try Fixture()
        var notes: [String] = []
        _ = try f.load(&notes)
        // Same path, new contents: labels change.
        f.paths[1] = try f.sources.write("train-labels.gz", IDXFixture.labels([3, 3, 3, 3, 3, 3, 0]), gzip: true)
        let reloaded = try f.load(&notes)
        #expect(notes.count == 1 && notes[0].contains("stale"))
        #expect(reloaded.train.labels == [3, 3, 3, 3, 3, 3, 0])
    }

    @Test func cacheDirectoryFollowsTheEnvironment() {
        #expect(DatasetCache.defaultDirectory(environment: ["AVIARY_CACHE_DIR": "/a", "XDG_CACHE_HOME": "/x", "HOME": "/h"]) == "/a")
        #expect(DatasetCache.defaultDirectory(environment: ["XDG_CACHE_HOME": "/x", "HOME": "/h"]) == "/x/aviary")
        #expect(DatasetCache.defaultDirectory(environment: ["HOME": "/h"]) == "/h/.cache/aviary")
    }

    @Test func unwritableDirectoryFallsBackToMemoryWithANote() throws {
        let f = try Fixture()
        let blocker = try f.cache.write("file", [1])  // a file where the directory should be
        var notes: [String] = []
        let loaded = try DatasetCache.loadIDX(trainImages: f.paths[0], trainLabels: f.paths[1], testImages: f.paths[2],
                                              testLabels: f.paths[3], classes: nil, hint: "", directory: blocker + "/sub", notes: &notes)
        #expect(notes.count == 1 && notes[0].contains("in memory"))
        let direct = try f.direct()
        #expect(loaded.train == direct.train)
    }
}
