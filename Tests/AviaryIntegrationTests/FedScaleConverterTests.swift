import Foundation
import Testing
import AviaryTestSupport
import AviaryServer

/// tools/fedscale_traces_to_json.py on pickles shaped like FedScale's own, and the server's
/// reader on its output.
@Suite struct FedScaleConverterTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let python = "/usr/bin/python3"

    static func python(_ args: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe; p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test(.enabled(if: Prerequisite.enabled(FileManager.default.isExecutableFile(atPath: python)), "needs /usr/bin/python3"))
    func picklesOfFedScalesShapeConvertAndLoad() throws {
        let dir = NSTemporaryDirectory() + "aviary-fedscale-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // Integer ids, an extra field, a tuple and an int where FedScale's files have floats.
        let make = try Self.python(["-c", """
            import pickle
            pickle.dump({2: {'computation': 20, 'communication': 8000.0}, 1: {'computation': 10.5, 'communication': 800, 'extra': 'x'}},
                        open('\(dir)/device.pkl', 'wb'))
            pickle.dump({1: {'active': (0, 100), 'inactive': [50.0, 150], 'finish_time': 200, 'duration': 9}},
                        open('\(dir)/behave.pkl', 'wb'))
            pickle.dump({1: {'computation': 10}}, open('\(dir)/bad.pkl', 'wb'))
            """])
        #expect(make.status == 0, "\(make.output)")
        let script = Self.root + "/tools/fedscale_traces_to_json.py"
        let device = try Self.python([script, "device", dir + "/device.pkl", dir + "/device.json"])
        #expect(device.status == 0 && device.output.contains("2 clients (device)"), "\(device.output)")
        let behaviour = try Self.python([script, "behaviour", dir + "/behave.pkl", dir + "/behave.json"])
        #expect(behaviour.status == 0, "\(behaviour.output)")
        #expect(try FedScaleTraces.capacities(path: dir + "/device.json") == [.init(computation: 10.5, communication: 800),
                                                                              .init(computation: 20, communication: 8000)])
        #expect(try FedScaleTraces.behaviours(path: dir + "/behave.json") == [BehaviourTrace(active: [0, 100], inactive: [50, 150], finishTime: 200)])
        let bad = try Self.python([script, "device", dir + "/bad.pkl", dir + "/bad.json"])
        #expect(bad.status != 0 && bad.output.contains("client 1: missing communication"), "\(bad.output)")
    }
}
