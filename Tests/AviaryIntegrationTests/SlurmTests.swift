import Foundation
import Testing
import AviaryTestSupport
import AviaryLog

/// deploy/slurm/aviary.sbatch on a real, single-node Slurm cluster (SlurmCluster): task 0 runs
/// the server, tasks 1 and 2 each host a shard of the clients, and the run directory says the
/// run completed.
@Suite(.serialized) struct SlurmTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static let rootTrait = Testing.ConditionTrait.enabled(if: getuid() == 0, "needs root to start munged, slurmctld and slurmd")
    static let installedTrait = Testing.ConditionTrait.enabled(if: Prerequisite.enabled(SlurmCluster.installed),
                                                                "slurm-wlm and munge are not installed (make test installs them)")

    @Test(rootTrait, installedTrait)
    func theSbatchScriptRunsAFederationOnASingleNodeCluster() throws {
        try runJob(keys: false)
    }

    /// The same job with AVIARY_KEYS: the server and clients use CURVE key files from keygen.
    @Test(rootTrait, installedTrait, .enabled(if: CurveBuild.keygenAvailable, CurveBuild.missing))
    func theSbatchScriptRunsAFederationWithCurveKeys() throws {
        try runJob(keys: true)
    }

    /// Top-k: the client tasks keep their residuals in AVIARY_STATE, under the run's id.
    @Test(rootTrait, installedTrait)
    func theSbatchScriptGivesTopkClientsTheirStateDirectory() throws {
        try runJob(keys: false, topk: true)
    }

    func runJob(keys: Bool, topk: Bool = false) throws {
        let bin = try #require(Harness.binDirectory, "aviary executables not built")
        let cluster = try SlurmCluster()
        defer { cluster.stop() }
        let probe = try SlurmCluster.run("/usr/bin/srun", ["-n", "2", "--overcommit", "hostname"], environment: cluster.environment)
        #expect(probe.split(separator: "\n") == [Substring(cluster.node), Substring(cluster.node)], "\(probe)")

        let dir = Harness.temporaryDirectory("slurm-run")
        let rounds = 3
        var environment = ["AVIARY_TOPOLOGY": "topologies/quickstart.toml",
                           "AVIARY_SET": "run.rounds=\(rounds) run.output=\(dir)" + (topk ? " compression.encoding=topk" : ""),
                           "AVIARY_BIN": bin,
                           "AVIARY_PORT": "\(try SlurmCluster.freePort())"]
        if topk { environment["AVIARY_STATE"] = dir + "/state" }
        if keys {
            let generated = try Harness.run("aviary", ["keygen", "--dir", dir + "/keys", "--processes", "2", "--clients", "10"])
            try #require(generated.status == 0, "\(generated.output)")
            environment["AVIARY_KEYS"] = dir + "/keys"
        }
        let job = try cluster.submit(Self.root + "/deploy/slurm/aviary.sbatch",
                                     ["--ntasks", "3", "--overcommit", "--output", dir + "/job.out", "--chdir", Self.root],
                                     environment: environment)
        let state = try cluster.wait(forJob: job, timeout: 90)
        let output = (try? String(contentsOfFile: dir + "/job.out", encoding: .utf8)) ?? ""
        #expect(state == "COMPLETED", "job \(job) ended \(state):\n\(output)")
        #expect(output.contains("2 client processes, 10 clients" + (keys ? ", CURVE keys from" : "")), "\(output)")

        let log = try AggregationLog.read(path: dir + "/quickstart/aggregation.jsonl")
        #expect(log.runEnd?.status == "completed")
        #expect(log.rounds.map(\.round) == Array(1...rounds))
        #expect(log.rounds.last?.accepted == Array(0..<10), "both shards together host all ten clients")
        let checkpoint = dir + "/quickstart/checkpoints/" + String(format: "round-%04d.safetensors", rounds)
        #expect(FileManager.default.fileExists(atPath: checkpoint))
        if topk {
            let runID = try #require(log.runStart?.runId)
            let clients = try FileManager.default.contentsOfDirectory(atPath: dir + "/state/" + runID)
            #expect(clients.sorted() == (0..<10).map { String(format: "client-%06d", $0) }, "\(clients)")
        }
    }
}

/// Whether this build has `aviary keygen` (CURVE). The CURVE variants of the Slurm and compose
/// tests run once it does; until then they skip with this reason.
enum CurveBuild {
    static let missing: Comment = "this build has no `aviary keygen` (CURVE support not merged yet)"
    static let keygenAvailable: Bool = {
        // `aviary keygen --help` would print the top-level help and exit 0 without the
        // subcommand, so the probe generates a tiny key directory for real.
        let dir = Harness.temporaryDirectory("keygen-probe")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard let result = try? Harness.run("aviary", ["keygen", "--dir", dir + "/keys", "--processes", "1", "--clients", "1"], timeout: 30)
        else { return false }
        return result.status == 0 && FileManager.default.fileExists(atPath: dir + "/keys/server.public")
    }()
}
