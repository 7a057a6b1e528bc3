import AviaryMath
import AviaryProtocol
import AviarySecAgg
import AviaryTopology

/// The hosted clients' side of secure aggregation (`[secagg]`, docs/PROTOCOL.md section 8):
/// after training, a client sends its keys (stage 1) instead of an UPDATE, then answers each
/// SECAGG stage through its `SecAggClient`, masking its clipped, weighted, quantised update.
///
/// Stage 1's parameters come with TRAIN, the update when training ends; whichever is second
/// triggers the keys. Secrets are fresh for every (client, round), so a round the server
/// replays after a crash draws new keys; the quantised input is not: its stochastic rounding
/// is seeded from (training seed, client, round), and training is deterministic, so the
/// replayed round's sum is the same.
struct SecAggParticipation {
    enum Problem: Error, CustomStringConvertible {
        case weight(client: Int, round: Int, String)
        case secAgg(client: Int, round: Int, SecAggError)
        case notDense(client: Int, round: Int)

        var description: String {
            switch self {
            case let .weight(c, r, why): "client \(c) has no secure-aggregation weight in round \(r): \(why)"
            case let .secAgg(c, r, e): "client \(c), round \(r): \(e)"
            case let .notDense(c, r): "client \(c), round \(r): secure aggregation masks a dense f32 delta"
            }
        }
    }

    private struct Key: Hashable { var client: Int; var round: Int }
    private struct Entry {
        var delta: [Float]?
        var weight: Double?
        var parameters: SecAggParameters?
        var machine: SecAggClient?
        /// The quantised input, already laid out as its stage-3 reply body.
        var input: MaskedInputBody?
    }

    let rule: SecAggWeightRule
    let trainingSeed: UInt64
    private var entries: [Key: Entry] = [:]
    /// Supplies each client's round secrets: the system's random source in a run.
    var secrets: (Int, Int) -> ClientSecrets = { _, _ in ClientSecrets.generate() }

    init(rule: SecAggWeightRule, trainingSeed: UInt64) {
        self.rule = rule; self.trainingSeed = trainingSeed
    }

    /// The client's weight: its FAILURE reason when it has none (e.g. MWA's metric missing).
    func weight(of update: UpdateMessage) -> Result<Double, Problem> {
        rule.weight(samples: update.samples, metrics: update.metrics).mapError {
            .weight(client: update.clientIndex, round: update.round, $0.description)
        }
    }

    /// Training finished with `update` (never sent): keys go out if stage 1 already arrived.
    mutating func trained(_ update: UpdateMessage, weight: Double) -> Result<[SecAggReplyMessage], Problem> {
        guard case let .f32(delta) = update.payload else { return .failure(.notDense(client: update.clientIndex, round: update.round)) }
        let key = Key(client: update.clientIndex, round: update.round)
        forgetBefore(update.round)
        entries[key, default: Entry()].delta = delta
        entries[key]!.weight = weight
        return advertiseIfReady(key)
    }

    /// A SECAGG frame for a hosted client: the answer, none (not ready yet), or why this client
    /// cannot answer (it then stays silent and the server counts it as dropped).
    mutating func received(_ m: SecAggMessage) -> Result<[SecAggReplyMessage], Problem> {
        let key = Key(client: m.clientIndex, round: m.round)
        func fail(_ e: SecAggError) -> Result<[SecAggReplyMessage], Problem> { .failure(.secAgg(client: m.clientIndex, round: m.round, e)) }
        guard let stage = SecAggBodyCodec.Stage(rawValue: m.stage) else {
            return fail(.unexpectedStage(expected: "a stage 1…4", got: "stage \(m.stage)"))
        }
        let message: SecAggServerMessage
        do throws(SecAggError) { message = try SecAggBodyCodec.decodeServer(stage: stage, body: m.body, round: m.round) } catch { return fail(error) }
        if case let .advertiseKeys(p) = message {
            forgetBefore(m.round)
            guard entries[key]?.parameters == nil else { return .success([]) }  // a repeat: keys already went out
            entries[key, default: Entry()].parameters = p
            return advertiseIfReady(key)
        }
        guard var machine = entries[key]?.machine else {
            return fail(.unexpectedStage(expected: "advertise-keys", got: stage == .shareKeys ? "share-keys" : stage == .maskedInput ? "masked-input" : "unmasking"))
        }
        let answer: SecAggReplyMessage
        do throws(SecAggError) {
            switch message {
            case .advertiseKeys: return .success([])
            case let .shareKeys(keys): answer = reply(.shares(try machine.shareKeys(keys)), key)
            case let .maskInput(shares):
                // Stage 3 is the input's last use: taken out of the entry, it is masked in place
                // in the reply body it was quantised into, which goes out as it is (no copy of
                // the 0.8 MB input, no second body). A repeated stage 3 fails on the machine's
                // stage either way.
                guard let input = entries[key]!.input.take() else { throw .unexpectedStage(expected: "unmasking", got: "masked-input") }
                let body = try machine.maskInput(shares: shares, body: consume input)
                answer = SecAggReplyMessage(round: key.round, clientIndex: key.client, stage: SecAggBodyCodec.Stage.maskedInput.rawValue,
                                            body: body.bytes)
            case let .unmask(request): answer = reply(.unmasked(try machine.unmask(request)), key)
            }
        } catch { return fail(error) }
        entries[key]!.machine = machine
        return .success([answer])
    }

    /// Idle-time work between stages 2 and 3: the client's pairwise-mask seeds
    /// (`SecAggClient.prepareMaskSeeds`). Nothing when the client is past stage 2 or gone (its
    /// stage 3 derived or will derive them itself); an error is left for stage 3 to report.
    mutating func prepareMaskSeeds(client: Int, round: Int) {
        let key = Key(client: client, round: round)
        guard var machine = entries[key]?.machine, machine.stage == .shared else { return }
        do throws(SecAggError) { try machine.prepareMaskSeeds() } catch { return }
        entries[key]!.machine = machine
    }

    private mutating func advertiseIfReady(_ key: Key) -> Result<[SecAggReplyMessage], Problem> {
        guard let e = entries[key], let p = e.parameters, let delta = e.delta, let weight = e.weight, e.machine == nil else { return .success([]) }
        do throws(SecAggError) {
            guard delta.count + 1 == p.vectorLength else { throw .wrongInputLength(expected: p.vectorLength, got: delta.count + 1) }
            var stream = Self.roundingStream(seed: trainingSeed, client: key.client, round: key.round)
            // Weighs, clips and quantises in one pass (WeightedInput.make's numbers, no [Double] copy),
            // straight into the stage-3 reply body it will be masked in.
            let input = try p.quantiser.quantiseWeightedBody(delta: delta, weight: weight, stream: &stream)
            var machine = try SecAggClient(index: key.client, parameters: p, secrets: secrets(key.client, key.round))
            let keys = try machine.advertiseKeys()
            entries[key]!.input = input
            entries[key]!.machine = machine
            entries[key]!.delta = nil  // the quantised input is all later stages need
            return .success([reply(.keys(keys), key)])
        } catch {
            entries[key] = nil
            return .failure(.secAgg(client: key.client, round: key.round, error))
        }
    }

    private func reply(_ m: SecAggClientMessage, _ key: Key) -> SecAggReplyMessage {
        let (stage, body) = SecAggBodyCodec.encode(m)
        return SecAggReplyMessage(round: key.round, clientIndex: key.client, stage: stage.rawValue, body: body)
    }

    /// Earlier rounds are over once a later one starts: their secrets and inputs go.
    private mutating func forgetBefore(_ round: Int) {
        if entries.keys.contains(where: { $0.round < round }) { entries = entries.filter { $0.key.round >= round } }
    }

    /// The stochastic rounding's stream: (training seed, client, round), so a replayed round
    /// quantises its (deterministic) update identically.
    static func roundingStream(seed: UInt64, client: Int, round: Int) -> RandomStream {
        RandomStream(seed: seed, purpose: .quantisation,
                     index: 0x5345_4341_0000_0000 ^ (UInt64(UInt32(truncatingIfNeeded: client)) &* 0x9E37_79B9_7F4A_7C15)
                         ^ UInt64(UInt32(truncatingIfNeeded: round)))
    }
}
