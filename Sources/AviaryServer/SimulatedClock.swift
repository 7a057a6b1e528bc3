import AviaryProtocol
import AviaryMath
import AviaryTopology

/// System heterogeneity on a simulated clock, as a value: per-client profiles and training
/// work (fixed for the run), the clock's reading and the availability state (carried from round
/// to round, saved with the run state). Nothing sleeps: a round's simulated duration is computed
/// from the profiles, so a thousand rounds of slow phones take as long as the machine needs to
/// train them. Pure (no I/O, no wall clock); unit-tested.
public struct SimulatedClock: Sendable {
    public let settings: SystemSettings
    public let profiles: SystemProfiles
    /// Per client: sample passes of one round's local training (samples processed × passes).
    let work: [Double]
    /// Per client: probability of being online in a round.
    let availability: [Double]
    let parameterCount: Int
    /// One UPDATE's bytes in the run's encoding (`TransferSize.uploadBytes`).
    let uploadBytes: Int
    /// Every client has availability 1: no draws at all.
    let alwaysOnline: Bool
    /// Per client, FedScale's behaviour trace: online when the clock at the round's start lies in
    /// one of its active intervals (replaces `availability` and `online_period`).
    let behaviour: [BehaviourTrace]?

    /// Round trips a round has beyond MODEL/TRAIN → UPDATE: 3 under `[secagg]` (share keys,
    /// masked input, unmasking; advertising keys replaces the UPDATE). Each costs the client
    /// 2 × its latency; their payloads (keys, encrypted shares, revealed shares) are O(k) small
    /// frames and are not charged, and the masked input (4 bytes per coordinate) is charged as
    /// the f32 UPDATE it replaces.
    public var extraRoundTrips = 0

    /// Simulated seconds since the run started, at the close of the last completed round.
    public private(set) var now: Double = 0
    /// The round `offline` belongs to (0: none entered yet).
    public private(set) var round: Int = 0
    /// Clients offline in `round`, ascending.
    public private(set) var offline: [Int] = []

    /// `work[i]`: client i's training cost in sample passes (`TrainingWork`).
    public init(settings: SystemSettings, profiles: SystemProfiles, work: [Double], parameterCount: Int,
                encoding: DeltaEncoding = .f32, tensorSizes: [Int]? = nil, behaviour: [BehaviourTrace]? = nil) {
        self.settings = settings; self.profiles = profiles; self.work = work; self.parameterCount = parameterCount
        uploadBytes = TransferSize.uploadBytes(encoding: encoding, tensorSizes: tensorSizes ?? [parameterCount])
        availability = (0..<work.count).map { profiles.profile($0).availability }
        self.behaviour = behaviour
        alwaysOnline = behaviour == nil && availability.allSatisfy { $0 >= 1 }
    }

    public var clients: Int { work.count }

    /// The saved state of a run, restored on resume.
    public mutating func restore(now: Double, round: Int, offline: [Int]) {
        self.now = now; self.round = round; self.offline = offline.sorted()
    }

    /// Enters `round` and returns its offline clients (ascending). Offline clients are not
    /// sampled that round (FedScale's semantics: only online clients are candidates). With
    /// `online_period`, online and offline periods alternate per client as a two-state Markov
    /// chain, whose state carries over from the previous round (replayed from round 1 when the
    /// previous round's state is not at hand); otherwise each round is an independent draw.
    public mutating func enter(round r: Int) -> [Int] {
        precondition(r >= 1)
        if alwaysOnline {
            round = r; offline = []
            return []
        }
        if let behaviour {
            // A pure function of the clock (the close of the previous round), so a resumed clock agrees.
            offline = (0..<clients).filter { !behaviour[$0].isActive(at: now) }
            round = r
            return offline
        }
        guard let period = settings.onlinePeriod else {
            offline = (0..<clients).filter { Self.draw(seed: settings.seed, round: r, client: $0) >= availability[$0] }
            round = r
            return offline
        }
        if round != r - 1 {
            // Replay from round 1: the chain's state is a pure function of the seed and the round.
            round = 0; offline = []
            for earlier in 1..<r { _ = step(to: earlier, period: period) }
        }
        return step(to: r, period: period)
    }

    /// One Markov step of every client into round `r` (round 1: the stationary distribution,
    /// which is `a` by construction of `transitions`).
    private mutating func step(to r: Int, period: Double) -> [Int] {
        let wasOffline = Set(offline)
        var next: [Int] = []
        for i in 0..<clients {
            let a = availability[i]
            let u = Self.draw(seed: settings.seed, round: r, client: i)
            let isOffline: Bool
            if a >= 1 { isOffline = false } else if a <= 0 { isOffline = true } else if r == 1 {
                isOffline = u >= a
            } else {
                let chain = Self.transitions(availability: a, onlinePeriod: period)
                isOffline = wasOffline.contains(i) ? u >= chain.comeOnline : u < chain.goOffline
            }
            if isOffline { next.append(i) }
        }
        round = r; offline = next
        return next
    }

    /// The two-state chain of a client with availability `a` in (0, 1) and mean online period
    /// `L` rounds: per round, an online client goes offline with probability `goOffline` and an
    /// offline one comes online with `comeOnline`. Its stationary online share
    /// comeOnline / (goOffline + comeOnline) is `a` for every L: offline periods have mean
    /// L·(1−a)/a rounds, and where that would be shorter than the 1 round a period lasts at the
    /// least (a > L/(L+1)), offline periods last exactly 1 round and the online period is
    /// lengthened to a/(1−a) rounds instead. (Capping only the offline side, as before, left
    /// the share at L/(L+1): 0.67 for a = 0.9, L = 2.)
    static func transitions(availability a: Double, onlinePeriod L: Double) -> (goOffline: Double, comeOnline: Double) {
        let comeOnline = a / ((1 - a) * L)
        if comeOnline <= 1 { return (1 / L, comeOnline) }
        return ((1 - a) / a, 1)
    }

    /// The uniform deciding client `client`'s availability in round `round`.
    static func draw(seed: UInt64, round: Int, client: Int) -> Double {
        var rng = RandomStream(seed: seed, purpose: .sampling, index: UInt64(round) << 32 | UInt64(client))
        return rng.nextDouble()
    }

    /// When each of `sampled` would finish the round (from its start), and who makes the close.
    public func timing(sampled: [Int]) -> RoundTiming {
        let down = TransferSize.downloadBytes(parameterCount: parameterCount)
        var finish: [Int: Double] = [:]
        for c in sampled {
            let p = profiles.profile(c)
            finish[c] = RoundTiming.clientSeconds(p, work: work[c], downloadBytes: down, uploadBytes: uploadBytes)
                + Double(extraRoundTrips) * 2 * p.latency
        }
        return RoundTiming.close(finish: finish, deadline: settings.deadline, kFastest: settings.kFastest)
    }

    /// Clients of `sampled` the server does not ask to train: predicted stragglers under "drop"
    /// (their update would not be merged anyway), none under "stale".
    public func notAsked(sampled: [Int]) -> [Int] {
        settings.stragglerPolicy == .drop ? timing(sampled: sampled).stragglers : []
    }

    /// The round closed after `seconds` of simulated time.
    public mutating func advance(by seconds: Double) { now += seconds }
}
