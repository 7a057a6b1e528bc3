import AviaryAdversarial
import AviaryTopology

/// One round on the simulated clock: when each sampled client would finish, who makes it, and
/// when the server closes the round. Pure; decisions depend only on simulated times, ties broken
/// by client index, never on the order updates arrive in.
public struct RoundTiming: Sendable, Equatable {
    /// Seconds from the round's start to each sampled client's upload arriving, by client.
    public var finish: [Int: Double]
    /// Clients that arrive before the round closes, ascending.
    public var onTime: [Int]
    /// Sampled clients that would miss the close (deadline, or after the k fastest), ascending.
    public var stragglers: [Int]
    /// Seconds from the round's start to its close.
    public var duration: Double

    /// The server closes at `deadline`, or once the `kFastest` first have arrived, whichever is
    /// first; with neither (or nobody late) it closes when the last sampled client arrives.
    public static func close(finish: [Int: Double], deadline: Double?, kFastest: Int?) -> RoundTiming {
        let order = finish.sorted { $0.value != $1.value ? $0.value < $1.value : $0.key < $1.key }
        let limit = deadline ?? .infinity
        var eligible = order.prefix { $0.value <= limit }
        var duration: Double
        if let k = kFastest, eligible.count >= k {
            eligible = eligible.prefix(k)
            duration = eligible.last?.value ?? 0
        } else if eligible.count < order.count {
            duration = limit  // someone is late: the server waited until the deadline
        } else {
            duration = order.last?.value ?? 0
        }
        if order.isEmpty { duration = 0 }
        let onTime = eligible.map(\.key).sorted()
        let onTimeSet = Set(onTime)
        return RoundTiming(finish: finish, onTime: onTime,
                           stragglers: order.map(\.key).filter { !onTimeSet.contains($0) }.sorted(), duration: duration)
    }

    /// download / downlink + latency + work / speed + upload / uplink + latency.
    public static func clientSeconds(_ p: SystemProfile, work: Double, downloadBytes: Int, uploadBytes: Int) -> Double {
        Double(downloadBytes) / p.downBps + p.latency + work / p.speed + Double(uploadBytes) / p.upBps + p.latency
    }
}

/// What local training costs a client, in sample passes (one forward and one backward pass of
/// one sample): what its `speed` (samples per second) divides.
public enum TrainingWork {
    /// Forward/backward passes per training sample. PGD-k (and FGSM, k = 1) crafts the example
    /// with k input-gradient passes and trains with one more; `mix` also trains on the clean
    /// batch, and TRADES adds the clean pass its KL term needs.
    public static func passes(_ spec: AdversarialTrainingSpec) -> Double {
        let k = Double(spec.attack.kind == .fgsm ? 1 : spec.attack.steps)
        switch spec.mode {
        case .none: return 1
        case .pgd: return k + 1
        case .mix, .trades: return k + 2
        }
    }

    /// Samples one round of local training processes: `epochs` passes over `samples` in batches of
    /// `batchSize`, stopped after `maxSteps` batches in all (as the client's trainer does).
    public static func samplesProcessed(samples: Int, epochs: Int, batchSize: Int, maxSteps: Int?) -> Int {
        guard samples > 0 else { return 0 }
        let batchesPerEpoch = (samples + batchSize - 1) / batchSize
        let totalBatches = batchesPerEpoch * epochs
        guard let maxSteps, maxSteps < totalBatches else { return samples * epochs }
        let fullEpochs = maxSteps / batchesPerEpoch
        let rest = maxSteps % batchesPerEpoch
        return fullEpochs * samples + min(rest * batchSize, samples)
    }
}
