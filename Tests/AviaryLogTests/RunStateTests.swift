import Foundation
import Testing
import AviaryMath
import AviaryMerge
@testable import AviaryLog

/// RunStateStore: bit-exact round trips, the on-disk layout, and refusal of every kind of damage.
@Suite struct RunStateTests {
    static let topology = Array("[run]\nname = \"t\"\n".utf8)

    /// A state after two FedAdam steps, with awkward floats (subnormal, -0, extremes).
    static func sample(round: Int = 4, p: Int = 5) throws -> RunState {
        var optimizer = try ServerOptimizer(spec: .fedadam(lr: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3))
        var global: [Float] = (0..<p).map { Float($0) * 0.1 - 0.2 }
        global[0] = 0x1p-140
        if p > 1 { global[1] = -0.0 }
        if p > 2 { global[2] = .greatestFiniteMagnitude }
        try optimizer.apply(delta: (0..<p).map { Float($0) * 0.01 }, to: &global)
        try optimizer.apply(delta: (0..<p).map { -Float($0) * 0.03 }, to: &global)
        return RunState(
            run: "t", round: round, topologyDigest: RunState.digest(topology: topology),
            seeds: .init(partition: 1, sampling: UInt64.max, training: 0x8000_0000_0000_0001),
            global: global, optimizer: optimizer, registeredCount: 9, unresponsive: [7, 2],
            mergeWindow: [MergeWindowEntry(round: round - 1, loss: 0.5, parameters: global.map { $0 * 0.5 }),
                          MergeWindowEntry(round: round, loss: .infinity, parameters: global)],
            integers: ["clock_ticks": [3, 1]], numbers: ["simulated_seconds": 12.25], strings: ["session_token": ["a1", "b2"]],
            lastEval: Evaluation(cleanAccuracy: 0.75, cleanLoss: 0.5, samples: 100, robustAccuracy: 0.25),
            vectors: ["residual.3": [1, 2, 3]], log: LogPosition(records: 9, bytes: 1234), elapsedSeconds: 61.5)
    }

    static func bits(_ v: [Float]) -> [UInt32] { v.map(\.bitPattern) }

    @Test func roundTripIsBitExact() throws {
        let dir = try SafetensorsTestDirectory()
        let store = RunStateStore(directory: RunDirectory(path: dir.path))
        let state = try Self.sample()
        try store.save(state)
        let loaded = try store.load(topology: Self.topology)
        #expect(Self.bits(loaded.global) == Self.bits(state.global))
        #expect(Self.bits(loaded.optimizer.m) == Self.bits(state.optimizer.m))
        #expect(Self.bits(loaded.optimizer.v) == Self.bits(state.optimizer.v))
        #expect(loaded.mergeWindow.map { Self.bits($0.parameters) } == state.mergeWindow.map { Self.bits($0.parameters) })
        #expect(loaded == state)
        #expect(loaded.unresponsive == [2, 7] && loaded.registeredCount == 9)
        #expect(loaded.lastEval?.robustAccuracy == 0.25 && loaded.strings["session_token"] == ["a1", "b2"])
        #expect(loaded.seeds.sampling == UInt64.max)
        // The restored optimiser continues exactly as the original would.
        var a = state.optimizer, b = loaded.optimizer
        var ga = state.global, gb = loaded.global
        try a.apply(delta: [Float](repeating: 0.01, count: 5), to: &ga)
        try b.apply(delta: [Float](repeating: 0.01, count: 5), to: &gb)
        #expect(Self.bits(ga) == Self.bits(gb) && a == b)
    }

    /// The file state.json names for `tensor` (e.g. "global", "extra.residual.3").
    static func vectorFile(_ run: RunDirectory, _ tensor: String, index: String? = nil) throws -> String {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: index ?? run.state))) as! [String: Any]
        let vectors = json["vectors"] as! [String: [String: Any]]
        return run.path + "/" + (vectors[tensor]!["file"] as! String)
    }

    static func vectorFiles(_ run: RunDirectory) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: run.stateDirectory).filter { $0.hasSuffix(".safetensors") }.sorted()
    }

    @Test func layoutIsStateJSONPlusOneFilePerVectorWrittenOnce() throws {
        let dir = try SafetensorsTestDirectory()
        let run = RunDirectory(path: dir.path)
        let store = RunStateStore(directory: run)
        var state = try Self.sample(round: 3)
        try store.save(state)
        #expect(store.lastSave.files == 6 && store.lastSave.reused == 0)
        #expect(try Self.vectorFiles(run) == ["r0003-extra.residual.3.safetensors", "r0003-global.safetensors", "r0003-merge_window.0.safetensors",
                                              "r0003-merge_window.1.safetensors", "r0003-optimizer.m.safetensors", "r0003-optimizer.v.safetensors"])
        let json = try #require(String(data: try Data(contentsOf: URL(fileURLWithPath: run.state)), encoding: .utf8))
        #expect(json.contains("\"version\" : 2"))
        #expect(json.contains("\"file\" : \"state/r0003-global.safetensors\""))
        #expect(json.contains("\"rng\" : \"stateless"))
        #expect(!json.contains("0.0001"))  // vectors are tensors, not JSON numbers
        let file = try Safetensors.read(path: run.stateDirectory + "/r0003-global.safetensors")
        #expect(file.tensors.map(\.name) == ["values"] && file.metadata["round"] == "3" && file.metadata["format"] == "aviary-run-state-v2")
        #expect(try file.values(named: "values").map(\.bitPattern) == Self.bits(state.global))

        // Round 4: only the global model changed; the window slid (its entries keep their files
        // under new names), the residual and moments are the same arrays.
        let old = state.global
        state.round = 4
        state.global = state.global.map { $0 * 0.5 }
        state.mergeWindow = [state.mergeWindow[1], MergeWindowEntry(round: 4, loss: 0.25, parameters: state.global)]
        try store.save(state, durable: false)
        #expect(store.lastSave.files == 2, "global and the new window entry")  // the same array twice, written as two files
        #expect(store.lastSave.reused == 4)
        // Round 3's window entry 1 was round 3's global array: either of its two files will do.
        let slid = try Self.vectorFile(run, "merge_window.0")
        #expect(slid.hasSuffix("state/r0003-merge_window.1.safetensors") || slid.hasSuffix("state/r0003-global.safetensors"), "\(slid)")
        #expect(try Self.vectorFile(run, "extra.residual.3").hasSuffix("state/r0003-extra.residual.3.safetensors"))
        // A vector equal in value (not the same array) is not rewritten either.
        state.vectors["residual.3"] = [1, 2, 3]
        state.round = 5
        try store.save(state, durable: false)
        #expect(store.lastSave.files == 0 && store.lastSave.reused == 6)
        #expect(try store.load(topology: Self.topology) == state)
        #expect(old != state.global)
    }

    /// Files no index names (superseded, or left by a save a crash interrupted) are deleted by
    /// the next save; those state/durable.json names are kept until the next durable save.
    @Test func unreferencedFilesAreRemovedAfterTheNewStateIsCommitted() throws {
        let dir = try SafetensorsTestDirectory()
        let run = RunDirectory(path: dir.path)
        let store = RunStateStore(directory: run)
        var state = try Self.sample(round: 4)
        try store.save(state)
        let durableGlobal = try Self.vectorFile(run, "global")
        // A crash after round 5's first vector file was renamed into place, before state.json was replaced.
        try Safetensors.write(arrays: [("values", [5], [1, 2, 3, 4, 5])], to: run.stateDirectory + "/r0005-global.safetensors")
        #expect(FileManager.default.createFile(atPath: run.state + ".tmp-4242", contents: Data("{\"ver".utf8)))
        #expect(try RunStateStore(directory: run).load(topology: Self.topology) == state)
        #expect(try TemporaryFiles.removeLeftovers(in: run) == [run.state + ".tmp-4242"])
        state.round = 5
        state.global = state.global.map { $0 + 1 }
        state.mergeWindow = []
        try store.save(state, durable: false)
        let files = try Self.vectorFiles(run)
        #expect(!files.contains("r0005-global.safetensors"), "the orphan is gone")
        #expect(try Self.vectorFile(run, "global").hasSuffix("r0005-global-2.safetensors"), "the orphan's name is not reused while it exists")
        #expect(FileManager.default.fileExists(atPath: durableGlobal), "named by state/durable.json")
        #expect(files.contains("r0004-merge_window.0.safetensors"), "state/durable.json still names it")
        state.round = 6
        state.global = state.global.map { $0 + 1 }
        try store.save(state, durable: true)
        #expect(try Self.vectorFiles(run) == ["r0004-extra.residual.3.safetensors", "r0004-optimizer.m.safetensors",
                                              "r0004-optimizer.v.safetensors", "r0006-global.safetensors"])
        #expect(try store.load() == state)
    }

    /// A power loss between durable saves: state.json names a file whose data never reached the
    /// disk. Resume falls back to state/durable.json and says why; without it, the error names the file.
    @Test func aDamagedNonDurableStateFallsBackToTheDurableOne() throws {
        let dir = try SafetensorsTestDirectory()
        let run = RunDirectory(path: dir.path)
        let store = RunStateStore(directory: run)
        let four = try Self.sample(round: 4)
        try store.save(four)
        var five = four
        five.round = 5
        five.global = five.global.map { $0 * 0.5 }
        try store.save(five, durable: false)
        let global5 = try Self.vectorFile(run, "global")
        try Data().write(to: URL(fileURLWithPath: global5))  // the rename survived, the data did not
        let reader = RunStateStore(directory: run)
        #expect(try reader.load(topology: Self.topology) == four)
        let note = try #require(reader.recovered)
        #expect(note.contains(global5) && note.contains("durable.json") && note.contains("round 4"), "\(note)")
        try FileManager.default.removeItem(atPath: store.durableState)
        #expect { try RunStateStore(directory: run).load() } throws: {
            if case RunStateError.vectorsCorrupt(global5, let r) = $0 { r.contains("0 bytes") } else { false }
        }
        try FileManager.default.removeItem(atPath: global5)
        #expect { try RunStateStore(directory: run).load() } throws: {
            if case RunStateError.vectorsCorrupt(global5, let r) = $0 { r.contains("missing") } else { false }
        }
    }

    /// `backgroundDurability`: a durable save returns before its fsyncs; once they are done,
    /// state/durable.json is that state, the fallback after a power loss works as with inline
    /// fsyncs, and the files the previous state/durable.json names stay until the new one is written.
    @Test func backgroundDurableSavesLeaveWhatInlineOnesDo() throws {
        let dir = try SafetensorsTestDirectory()
        let run = RunDirectory(path: dir.path)
        let store = RunStateStore(directory: run)
        store.backgroundDurability = true
        let four = try Self.sample(round: 4)
        try store.save(four)
        try store.waitForDurability()
        let global4 = try Self.vectorFile(run, "global")
        let durable = URL(fileURLWithPath: store.durableState), current = URL(fileURLWithPath: run.state)
        #expect(try Data(contentsOf: durable) == Data(contentsOf: current))
        var five = four
        five.round = 5
        five.global = five.global.map { $0 * 0.5 }
        five.mergeWindow = []  // its last entry shares round 4's global file
        try store.save(five, durable: false)
        let global5 = try Self.vectorFile(run, "global")
        let saved5 = try Data(contentsOf: URL(fileURLWithPath: global5))
        try Data().write(to: URL(fileURLWithPath: global5))  // a power loss: the rename survived, the data did not
        #expect(try RunStateStore(directory: run).load(topology: Self.topology) == four)
        try saved5.write(to: URL(fileURLWithPath: global5))
        var six = five
        six.round = 6
        six.global = six.global.map { $0 + 1 }
        try store.save(six, durable: true)
        #expect(FileManager.default.fileExists(atPath: global4), "named by state/durable.json until the new one is written")
        try store.waitForDurability()
        #expect(try Data(contentsOf: durable) == Data(contentsOf: current))
        try store.save(six, durable: false)
        #expect(!FileManager.default.fileExists(atPath: global4), "no longer named by any state")
        #expect(try RunStateStore(directory: run).load(topology: Self.topology) == six)
    }

    /// A state written by format version 1 (one vectors file per round) is refused by name and version.
    @Test func aVersionOneStateIsRefusedNamingTheFileAndVersion() throws {
        let dir = try SafetensorsTestDirectory()
        let run = RunDirectory(path: dir.path)
        try FileManager.default.createDirectory(atPath: run.path, withIntermediateDirectories: true)
        let v1 = #"{"format":"aviary-run-state","version":1,"run":"t","round":4,"vectors":{"file":"state/round-0004.safetensors","bytes":10,"crc32":"00000000"}}"#
        try Data(v1.utf8).write(to: URL(fileURLWithPath: run.state))
        #expect(throws: RunStateError.unsupportedVersion(path: run.state, found: 1, supported: 2)) { try RunStateStore(directory: run).load() }
        #expect("\(RunStateError.unsupportedVersion(path: run.state, found: 1, supported: 2))".contains("state.json has state format version 1"))
    }

    @Test func nonFiniteScanFindsTheFirstBadValueAnywhere() {
        for count in [0, 1, 15, 16, 17, 63, 64, 65, 1000, 4099] {
            let clean = (0..<count).map { Float($0) * 0.5 - 3 }
            #expect(NonFinite.firstIndex(in: clean) == nil)
            for bad in [Float.nan, .infinity, -.infinity, .signalingNaN] {
                for i in Set([0, count / 2, count - 1]) where count > 0 {
                    var v = clean
                    v[i] = bad
                    if i + 1 < count { v[count - 1] = .nan }
                    #expect(NonFinite.firstIndex(in: v) == i, "count \(count), index \(i), \(bad)")
                }
            }
        }
        #expect(NonFinite.firstIndex(in: [.greatestFiniteMagnitude, -.greatestFiniteMagnitude, 0x1p-149, -0.0]) == nil)
    }

    @Test func plainSGDStateWithEmptyMomentsRoundTrips() throws {
        let dir = try SafetensorsTestDirectory()
        let store = RunStateStore(directory: RunDirectory(path: dir.path))
        let state = RunState(run: "s", round: 0, topologyDigest: RunState.digest(topology: []), seeds: .init(partition: 0, sampling: 0, training: 0),
                             global: [1, 2], optimizer: try ServerOptimizer(spec: .sgd(lr: 1)), log: .init(records: 1, bytes: 10),
                             elapsedSeconds: 0)
        try store.save(state)
        #expect(try store.load() == state)
    }

    @Test func missingStateIsNamed() throws {
        let dir = try SafetensorsTestDirectory()
        let store = RunStateStore(directory: RunDirectory(path: dir.path))
        #expect(!store.exists)
        #expect(throws: RunStateError.missing(path: dir.path + "/state.json")) { try store.load() }
    }

    @Test func changedTopologyIsRefused() throws {
        let dir = try SafetensorsTestDirectory()
        let store = RunStateStore(directory: RunDirectory(path: dir.path))
        try store.save(try Self.sample())
        #expect(throws: RunStateError.self) { try store.load(topology: Self.topology + [0x20]) }
        #expect { try store.load(topology: Array("[run]\nname = \"u\"\n".utf8)) } throws: {
            guard case let RunStateError.topologyChanged(path, saved, current) = $0 else { return false }
            return path.hasSuffix("state.json") && saved != current && saved.hasPrefix("crc32:")
        }
    }

    @Test func tornOrEditedStateJSONIsRefused() throws {
        let dir = try SafetensorsTestDirectory()
        let run = RunDirectory(path: dir.path)
        let store = RunStateStore(directory: run)
        try store.save(try Self.sample())
        // The durable copy would stand in for a torn state.json (see the fallback test): without it, the errors.
        try FileManager.default.removeItem(atPath: store.durableState)
        let json = try Data(contentsOf: URL(fileURLWithPath: run.state))
        try json.prefix(json.count / 2).write(to: URL(fileURLWithPath: run.state))
        #expect { try store.load() } throws: { if case RunStateError.malformed = $0 { true } else { false } }

        let text = String(decoding: json, as: UTF8.self)
        try Data(text.replacingOccurrences(of: "\"version\" : 2", with: "\"version\" : 9").utf8).write(to: URL(fileURLWithPath: run.state))
        #expect(throws: RunStateError.unsupportedVersion(path: run.state, found: 9, supported: 2)) { try store.load() }

        try Data(text.replacingOccurrences(of: "state/r0004-global", with: "../r0004-global").utf8).write(to: URL(fileURLWithPath: run.state))
        #expect { try store.load() } throws: { if case RunStateError.inconsistent(_, "vectors", let r) = $0 { r.contains("../r0004-global") } else { false } }
    }

    @Test func damagedVectorsFileIsRefused() throws {
        let dir = try SafetensorsTestDirectory()
        let run = RunDirectory(path: dir.path)
        let store = RunStateStore(directory: run)
        try store.save(try Self.sample())
        let vectors = try Self.vectorFile(run, "extra.residual.3")
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: vectors)))
        // One flipped bit in the data: the header still parses, the CRC-32 does not match.
        bytes[bytes.count - 3] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: vectors))
        #expect { try store.load() } throws: { if case RunStateError.vectorsCorrupt(vectors, let r) = $0 { r.contains("CRC-32") } else { false } }
        // Torn (short) file.
        try Data(bytes.prefix(bytes.count - 8)).write(to: URL(fileURLWithPath: vectors))
        #expect { try store.load() } throws: { if case RunStateError.vectorsCorrupt(vectors, let r) = $0 { r.contains("bytes") } else { false } }
        try FileManager.default.removeItem(atPath: vectors)
        #expect { try store.load() } throws: { if case RunStateError.vectorsCorrupt(vectors, let r) = $0 { r.contains("missing") } else { false } }
        #expect("\(RunStateError.vectorsCorrupt(path: vectors, reason: "the file is missing"))".contains(vectors))
    }

    @Test func wrongShapesAndNonFiniteValuesAreNamed() throws {
        let dir = try SafetensorsTestDirectory()
        let run = RunDirectory(path: dir.path)
        let store = RunStateStore(directory: run)
        let s = try Self.sample()
        try store.save(s)
        try FileManager.default.removeItem(atPath: store.durableState)
        // Rewrite one vector file with a short global, a NaN, or a stray tensor, and fix size/CRC in
        // state.json, so the tensor checks (not the checksum) are what refuse it.
        var originals: [String: Data] = [:]
        func replace(_ tensor: String, _ arrays: [(name: String, shape: [Int], values: [Float])]) throws -> String {
            let path = try Self.vectorFile(run, tensor)
            originals[path] = try Data(contentsOf: URL(fileURLWithPath: path))
            let (size, crc) = try Safetensors.write(arrays: arrays, metadata: ["format": RunStateStore.vectorsFormat, "run": s.run, "round": "4"],
                                                    to: path)
            var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run.state))) as! [String: Any]
            var vectors = json["vectors"] as! [String: [String: Any]]
            vectors[tensor]!["bytes"] = size
            vectors[tensor]!["crc32"] = CRC32.hex(crc)
            json["vectors"] = vectors
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: run.state))
            return path
        }
        let saved = try String(contentsOfFile: run.state, encoding: .utf8)
        var path = try replace("global", [("values", [4], Array(s.global.prefix(4)))])
        #expect { try store.load() } throws: { if case RunStateError.badTensor(path, "values", let r) = $0 { r.contains("[5]") } else { false } }
        try saved.write(toFile: run.state, atomically: false, encoding: .utf8)
        for (p, d) in originals { try d.write(to: URL(fileURLWithPath: p)) }
        var m = s.optimizer.m
        m[3] = .nan
        path = try replace("optimizer.m", [("values", [5], m)])
        #expect { try store.load() } throws: { if case RunStateError.badTensor(path, "values", let r) = $0 { r.contains("value 3") } else { false } }
        try saved.write(toFile: run.state, atomically: false, encoding: .utf8)
        for (p, d) in originals { try d.write(to: URL(fileURLWithPath: p)) }
        path = try replace("optimizer.v", [("values", [5], s.optimizer.v), ("stray", [1], [0])])
        #expect { try store.load() } throws: { if case RunStateError.badTensor(path, "stray", _) = $0 { true } else { false } }
    }

    @Test func unsoundStateIsNotSaved() throws {
        let dir = try SafetensorsTestDirectory()
        let run = RunDirectory(path: dir.path)
        let store = RunStateStore(directory: run)
        var state = try Self.sample()
        state.global[1] = .infinity
        #expect { try store.save(state) } throws: { if case RunStateError.inconsistent(_, "global", _) = $0 { true } else { false } }
        state = try Self.sample()
        state.mergeWindow[0].parameters.removeLast()
        #expect { try store.save(state) } throws: { if case RunStateError.inconsistent(_, "merge_window[0]", _) = $0 { true } else { false } }
        #expect(!FileManager.default.fileExists(atPath: run.state))
    }

    /// Every optimiser rule: 3 steps, save, load, 3 more steps ends bit-identical to 6 steps uninterrupted.
    @Test(arguments: [ServerOptimizerSpec.sgd(lr: 0.5), .fedavgm(lr: 0.5, momentum: 0.9),
                      .fedadam(lr: 0.05, beta1: 0.9, beta2: 0.99, tau: 1e-3), .fedyogi(lr: 0.05, beta1: 0.9, beta2: 0.99, tau: 1e-3)])
    func resumedOptimizerMatchesUninterruptedRun(spec: ServerOptimizerSpec) throws {
        let p = 7
        func delta(_ step: Int) -> [Float] { (0..<p).map { Float(($0 * 7 + step * 3) % 11) * 0.013 - 0.06 } }
        var straight = try ServerOptimizer(spec: spec)
        var g1 = [Float](repeating: 0.1, count: p)
        for step in 0..<6 { try straight.apply(delta: delta(step), to: &g1) }

        var first = try ServerOptimizer(spec: spec)
        var g2 = [Float](repeating: 0.1, count: p)
        for step in 0..<3 { try first.apply(delta: delta(step), to: &g2) }
        let dir = try SafetensorsTestDirectory()
        let store = RunStateStore(directory: RunDirectory(path: dir.path))
        try store.save(RunState(run: "o", round: 3, topologyDigest: "x", seeds: .init(partition: 0, sampling: 0, training: 0),
                                global: g2, optimizer: first, log: .init(records: 0, bytes: 0), elapsedSeconds: 1))
        let loaded = try store.load()
        var resumed = loaded.optimizer
        var g3 = loaded.global
        for step in 3..<6 { try resumed.apply(delta: delta(step), to: &g3) }
        #expect(Self.bits(g3) == Self.bits(g1))
        #expect(resumed == straight)
    }

    @Test func optimizerRestoreRejectsImpossibleStates() throws {
        #expect(throws: ServerOptimizerError.self) { try ServerOptimizer(spec: .sgd(lr: 1), m: [1], v: [], steps: 1) }
        #expect(throws: ServerOptimizerError.self) { try ServerOptimizer(spec: .fedadam(lr: 1, beta1: 0.9, beta2: 0.9, tau: 1e-3), m: [1, 2], v: [1], steps: 1) }
        #expect(throws: ServerOptimizerError.self) { try ServerOptimizer(spec: .fedavgm(lr: 1, momentum: 0.9), m: [1], v: [], steps: 0) }
        #expect(throws: ServerOptimizerError.self) { try ServerOptimizer(spec: .fedavgm(lr: 1, momentum: 0.9), m: [1], v: [1], steps: 2) }
        let ok = try ServerOptimizer(spec: .fedavgm(lr: 1, momentum: 0.9), m: [1], v: [], steps: 2)
        #expect(ok.steps == 2 && ok.m == [1])
    }
}
