import Foundation
import AviaryLog
import AviaryMath

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
            notes: dataNotes() + systemNote() + wallNote() + blasNote())
        record.encoding = topology.compression.description
        record.runId = runID
        record.aviaryBuild = options.build
        record.curve = options.security.isCurve
        record.config = topology.resolvedConfig
        // What is in force: `aviary-server --curve-secret` turns CURVE on over a topology that says false.
        record.config?["security.curve"] = .bool(options.security.isCurve)
        record.attackers = topology.attackers.record
        record.blas = Self.blasRecord()
        return record
    }

    /// The dataset's notes, without the server test set's when the server evaluates nothing on
    /// it (federated evaluation, the evaluator, or an external model): run_start then says who does.
    func dataNotes() -> [String] {
        let mode = topology.evaluation.mode
        guard mode != .server || topology.model.kind == .external else { return data.notes }
        let who = switch mode {
        case .server: "evaluation: none (the server cannot run an external model)"
        case .federated: "evaluation: federated, each evaluating client on its own held-out split; the server test set is not used"
        case .evaluator: "evaluation: the evaluator process, on its own test set; the server test set is not used"
        }
        return data.notes.filter { !$0.hasPrefix("server test set:") } + [who]
    }
}

public let aviaryVersion = "0.2.0"

extension FederatedServer {
    /// A pinned kernel OpenBLAS did not take (an unknown name: it falls back to its own choice
    /// without a word), so the log does not claim a pin that is not in force.
    func blasNote() -> [String] {
        let blas = Self.blasRecord()
        var notes: [String] = []
        if let pinned = blas.pinned, pinned.lowercased() != blas.core.lowercased() {
            notes.append("\(BLAS.coreTypeVariable)=\(pinned) was not taken: OpenBLAS uses its \(blas.core) kernels (an unknown name, or one this build lacks)")
        }
        if let wanted = topology.processes.blasCoreType, blas.pinned == nil {
            notes.append("[processes] blas_coretype = \"\(wanted)\" applies to processes `aviary run` starts; this server was started without \(BLAS.coreTypeVariable) and uses \(blas.core)")
        }
        return notes
    }

    /// This process's BLAS as `run_start.blas` records it.
    static func blasRecord() -> BLASRecord {
        BLASRecord(configuration: BLAS.configuration, core: BLAS.coreType,
                   pinned: ProcessInfo.processInfo.environment[BLAS.coreTypeVariable].flatMap { $0.isEmpty ? nil : $0 })
    }
}

/// Every log timestamp (`LogTimestamp`: the string ISO8601DateFormatter wrote, without it).
func timestamp() -> String { LogTimestamp.now() }
