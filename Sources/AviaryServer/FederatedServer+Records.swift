import Foundation
import AviaryLog

extension FederatedServer {
    func runStartRecord() -> RunStartRecord {
        let stats = data.statistics()
        var record = RunStartRecord(
            run: topology.name, time: timestamp(), aviaryVersion: aviaryVersion,
            seeds: .init(partition: topology.seeds.partition, sampling: topology.seeds.sampling, training: topology.seeds.training,
                         system: topology.system?.seed),
            rounds: topology.rounds, clients: topology.data.clients, clientsPerRound: topology.server.clientsPerRound,
            model: modelSpec.name, parameters: state.global.count, strategy: topology.merge.strategy.name,
            dataset: topology.data.dataset.name, partition: topology.data.partition.name,
            partitionStats: PartitionSummary(counts: stats.clients.map(\.count), labelHistograms: stats.clients.map(\.labelCounts),
                                             meanTotalVariation: stats.meanTotalVariation),
            notes: data.notes + systemNote())
        record.encoding = topology.compression.description
        record.runId = runID
        record.aviaryBuild = options.build
        record.curve = options.security.isCurve
        record.config = topology.resolvedConfig
        record.attackers = topology.attackers.record
        return record
    }
}

public let aviaryVersion = "0.2.0"

/// One formatter for every log timestamp: building one costs more than formatting a date.
/// Only the server's loop thread uses it.
nonisolated(unsafe) private let timestampFormatter: ISO8601DateFormatter = {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f
}()

func timestamp() -> String { timestampFormatter.string(from: Date()) }
