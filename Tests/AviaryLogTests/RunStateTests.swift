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

    @Test func layoutIsStateJSONPlusOneVectorsFileNamedByRound() throws {
        let dir = try SafetensorsTestDirectory()
        let run = RunDirectory(path: dir.path)
        let store = RunStateStore(directory: run)
        try store.save(try Self.sample(round: 3))
        try store.save(try Self.sample(round: 4))
        #expect(try FileManager.default.contentsOfDirectory(atPath: run.stateDirectory) == ["round-0004.safetensors"])
        let json = try #require(String(data: try Data(contentsOf: URL(fileURLWithPath: run.state)), encoding: .utf8))
        #expect(json.contains("\"file\" : \"state/round-0004.safetensors\""))
        #expect(json.contains("\"rng\" : \"stateless"))
        #expect(!json.contains("0.0001"))  // vectors are tensors, not JSON numbers
        let file = try Safetensors.read(path: run.path + "/state/round-0004.safetensors")
        #expect(Set(file.tensors.map(\.name)) == ["global", "optimizer.m", "optimizer.v", "merge_window.0", "merge_window.1", "extra.residual.3"])
        #expect(file.metadata["round"] == "4")
    }

    /// A crash after round 5's vectors file was renamed into place but before state.json was
    /// replaced: state.json still names round 4's file, which save has not deleted yet.
    @Test func crashBetweenVectorsAndStateJSONResumesFromThePreviousRound() throws {
        let dir = try SafetensorsTestDirectory()
        let run = RunDirectory(path: dir.path)
        let store = RunStateStore(directory: run)
        let four = try Self.sample(round: 4)
        try store.save(four)
        try Safetensors.write(arrays: [("global", [5], [1, 2, 3, 4, 5])], to: run.path + "/state/round-0005.safetensors")
        #expect(FileManager.default.createFile(atPath: run.state + ".tmp-4242", contents: Data("{\"ver".utf8)))
        #expect(try store.load(topology: Self.topology) == four)
        #expect(try TemporaryFiles.removeLeftovers(in: run) == [run.state + ".tmp-4242"])
        // The next save supersedes both files.
        try store.save(try Self.sample(round: 5))
        #expect(try FileManager.default.contentsOfDirectory(atPath: run.stateDirectory) == ["round-0005.safetensors"])
        #expect(try store.load().round == 5)
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
        let json = try Data(contentsOf: URL(fileURLWithPath: run.state))
        try json.prefix(json.count / 2).write(to: URL(fileURLWithPath: run.state))
        #expect { try store.load() } throws: { if case RunStateError.malformed = $0 { true } else { false } }

        let text = String(decoding: json, as: UTF8.self)
        try Data(text.replacingOccurrences(of: "\"version\" : 1", with: "\"version\" : 9").utf8).write(to: URL(fileURLWithPath: run.state))
        #expect(throws: RunStateError.unsupportedVersion(path: run.state, found: 9, supported: 1)) { try store.load() }

        try Data(text.replacingOccurrences(of: "state/round-0004", with: "../round-0004").utf8).write(to: URL(fileURLWithPath: run.state))
        #expect { try store.load() } throws: { if case RunStateError.inconsistent(_, "vectors.file", _) = $0 { true } else { false } }
    }

    @Test func damagedVectorsFileIsRefused() throws {
        let dir = try SafetensorsTestDirectory()
        let run = RunDirectory(path: dir.path)
        let store = RunStateStore(directory: run)
        try store.save(try Self.sample())
        let vectors = run.path + "/state/round-0004.safetensors"
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
    }

    @Test func wrongShapesAndNonFiniteValuesAreNamed() throws {
        let dir = try SafetensorsTestDirectory()
        let run = RunDirectory(path: dir.path)
        let store = RunStateStore(directory: run)
        try store.save(try Self.sample())
        // Rewrite the vectors file with a short global and a NaN in m, and fix size/CRC in state.json,
        // so the tensor checks (not the checksum) are what refuse it.
        let vectors = run.path + "/state/round-0004.safetensors"
        let s = try Self.sample()
        func replaceVectors(_ arrays: [(name: String, shape: [Int], values: [Float])]) throws {
            let (size, crc) = try Safetensors.write(arrays: arrays, metadata: ["format": RunStateStore.vectorsFormat, "run": s.run, "round": "4"],
                                                    to: vectors)
            var json = try String(contentsOfFile: run.state, encoding: .utf8)
            json = json.replacingOccurrences(of: #""bytes" : \d+,\n    "crc32" : "[0-9a-f]+""#,
                                             with: "\"bytes\" : \(size),\n    \"crc32\" : \"\(CRC32.hex(crc))\"",
                                             options: .regularExpression)
            try json.write(toFile: run.state, atomically: false, encoding: .utf8)
        }
        var window = s.mergeWindow.enumerated().map { ("merge_window.\($0.offset)", [5], $0.element.parameters) }
        window.append(("extra.residual.3", [3], [1, 2, 3]))
        try replaceVectors([("global", [4], Array(s.global.prefix(4))), ("optimizer.m", [5], s.optimizer.m), ("optimizer.v", [5], s.optimizer.v)] + window)
        #expect { try store.load() } throws: { if case RunStateError.badTensor(vectors, "global", let r) = $0 { r.contains("[5]") } else { false } }
        var m = s.optimizer.m
        m[3] = .nan
        try replaceVectors([("global", [5], s.global), ("optimizer.m", [5], m), ("optimizer.v", [5], s.optimizer.v)] + window)
        #expect { try store.load() } throws: { if case RunStateError.badTensor(vectors, "optimizer.m", let r) = $0 { r.contains("value 3") } else { false } }
        try replaceVectors([("global", [5], s.global), ("optimizer.m", [5], s.optimizer.m), ("optimizer.v", [5], s.optimizer.v), ("stray", [1], [0])] + window)
        #expect { try store.load() } throws: { if case RunStateError.badTensor(vectors, "stray", _) = $0 { true } else { false } }
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
