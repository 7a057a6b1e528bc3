import Foundation
import Testing
import AviaryLog

/// deploy/slurm/aviary.sbatch on a real, single-node Slurm cluster (SlurmCluster): task 0 runs
/// the server, tasks 1 and 2 each host a shard of the clients, and the run directory says the
/// run completed.
@Suite(.serialized) struct SlurmTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test(.enabled(if: getuid() == 0, "needs root to start munged, slurmctld and slurmd"),
          .enabled(if: Prerequisite.enabled(SlurmCluster.installed), "slurm-wlm and munge are not installed (make test installs them)"))
    func theSbatchScriptRunsAFederationOnASingleNodeCluster() throws {
        let bin = try #require(Harness.binDirectory, "aviary executables not built")
        let cluster = try SlurmCluster()
        defer { cluster.stop() }
        let probe = try SlurmCluster.run("/usr/bin/srun", ["-n", "2", "--overcommit", "hostname"], environment: cluster.environment)
        #expect(probe.split(separator: "\n") == [Substring(cluster.node), Substring(cluster.node)], "\(probe)")

        let dir = Harness.temporaryDirectory("slurm-run")
        let rounds = 3
        let job = try cluster.submit(Self.root + "/deploy/slurm/aviary.sbatch",
                                     ["--ntasks", "3", "--overcommit", "--output", dir + "/job.out", "--chdir", Self.root],
                                     environment: ["AVIARY_TOPOLOGY": "topologies/quickstart.toml",
                                                   "AVIARY_SET": "run.rounds=\(rounds) run.output=\(dir)",
                                                   "AVIARY_BIN": bin,
                                                   "AVIARY_PORT": "\(Int.random(in: 40000..<50000))"])
        let state = try cluster.wait(forJob: job, timeout: 90)
        let output = (try? String(contentsOfFile: dir + "/job.out", encoding: .utf8)) ?? ""
        #expect(state == "COMPLETED", "job \(job) ended \(state):\n\(output)")
        #expect(output.contains("2 client processes, 10 clients"), "\(output)")

        let log = try AggregationLog.read(path: dir + "/quickstart/aggregation.jsonl")
        #expect(log.runEnd?.status == "completed")
        #expect(log.rounds.map(\.round) == Array(1...rounds))
        #expect(log.rounds.last?.accepted == Array(0..<10), "both shards together host all ten clients")
        let checkpoint = dir + "/quickstart/checkpoints/" + String(format: "round-%04d.safetensors", rounds)
        #expect(FileManager.default.fileExists(atPath: checkpoint))
    }
}
