import AviaryMerge
import AviarySecAgg

/// How a run does secure aggregation (`ServerStateMachine.Configuration.secAgg`).
public struct SecAggPlan: Sendable {
    /// The round's SecAgg parameters for its asked clients (ascending), or why there are none
    /// (e.g. fewer than 2 clients): then nobody trains and the round fails with that reason.
    public var parameters: @Sendable (_ round: Int, _ participants: [Int]) -> Result<SecAggParameters, SecAggError>
    /// Seconds each of stages 2–4 waits for answers before closing with whoever answered.
    /// Stage 1 (advertise keys) is answered after local training, so it has the round timeout.
    public var stageTimeout: Double

    public init(stageTimeout: Double,
                parameters: @escaping @Sendable (_ round: Int, _ participants: [Int]) -> Result<SecAggParameters, SecAggError>) {
        self.parameters = parameters; self.stageTimeout = stageTimeout
    }
}

/// A SecAgg round's start: its stage machine, or the report of a round that cannot run.
enum SecAggStart: Sendable {
    case started(SecAggInRound)
    case refused(SecAggRoundReport)
}

/// The secure-aggregation part of a round in training.
struct SecAggInRound: Sendable {
    var server: SecAggServer
    var report: SecAggRoundReport
    /// The stage being collected (0: advertise keys … 3: unmasking) and when it opened.
    var stageIndex = 0
    var stageOpened: Double
}

/// `[secagg]` in the round pipeline (docs/PROTOCOL.md section 8). Stage 1 rides with TRAIN: a
/// sampled client trains, then answers with its keys instead of an UPDATE, so the round's
/// deadline covers training and key advertising together. Then the server drives stages 2–4
/// with SECAGG frames, each stage closing when every client still in it answered or after
/// `SecAggPlan.stageTimeout`; `AviarySecAgg.SecAggServer` decides the stage logic and this
/// layer only routes frames, counts bytes and times, and turns the verdict into the round's
/// outcome: the dequantised weighted mean Σw_iΔ_i / Σw_i, or the reason the round failed.
extension ServerStateMachine {
    /// Starts a SecAgg round for `asked`, or reports why its parameters are refused.
    func secAggStart(round: Int, asked: [Int], plan: SecAggPlan, now: Double) -> SecAggStart {
        switch plan.parameters(round, asked) {
        case let .success(p):
            let report = SecAggRoundReport(verdict: .failed("the round did not finish"), degree: p.graph.degree,
                                           threshold: p.threshold, participants: p.participants.count)
            return .started(SecAggInRound(server: SecAggServer(parameters: p), report: report, stageOpened: now))
        case let .failure(e):
            return .refused(SecAggRoundReport(verdict: .failed("secure aggregation cannot run this round: \(e)"),
                                              degree: nil, threshold: nil, participants: asked.count))
        }
    }

    /// Carries out what the stage machine asked for: SECAGG frames to the processes hosting
    /// the clients (a client with no process left is lost to the round at once), dropped
    /// clients into the report, and the verdict. Returns the frames and, once the round is
    /// decided, the verdict; the caller closes the round then.
    mutating func carryOut(_ produced: [SecAggServer.Action], _ t: inout Training, now: Double) -> (actions: [Action], verdict: SecAggRoundReport.Verdict?) {
        guard var s = t.secAgg else { return ([], nil) }
        var queue = produced, out: [Action] = [], verdict: SecAggRoundReport.Verdict? = nil
        while !queue.isEmpty {
            switch queue.removeFirst() {
            case let .send(to, message):
                guard let peer = peer(hosting: to) else {
                    queue += s.server.lost(to)
                    continue
                }
                let (stage, body) = SecAggBodyCodec.encode(message)
                let frame = Message.secAgg(SecAggMessage(round: t.round, clientIndex: to, stage: stage.rawValue, body: body))
                let size = WireCodec.encodedSize(frame)
                s.report.bytesDown[Int(stage.rawValue) - 1] += size
                t.traffic.down[to, default: 0] += size
                t.traffic.downSent += size
                out.append(.send(peer, frame))
            case let .dropped(client, reason):
                s.report.dropped[client] = "\(reason)"
            case let .completed(result):
                verdict = Self.mean(of: result, parameters: s.server.parameters)
            case let .failed(error):
                verdict = .failed("\(error)")
            }
        }
        let index = Self.stageIndex(s.server.stage)
        if index != s.stageIndex || verdict != nil {
            // A stage closed: charge its time, and give the next one its own deadline.
            s.report.stageSeconds[s.stageIndex] += now - s.stageOpened
            s.stageOpened = now
            if let index { s.stageIndex = index }
            t.deadline = now + (configuration.secAgg?.stageTimeout ?? configuration.roundTimeout)
        }
        s.report.survivors = s.server.survivorsPerStage
        if let verdict { s.report.verdict = verdict }
        t.secAgg = s
        return (out, verdict)
    }

    /// 0…3 for the stage being collected; nil once the round is decided (or not started).
    static func stageIndex(_ stage: SecAggServer.Stage) -> Int? {
        switch stage {
        case .advertising: 0
        case .sharing: 1
        case .masking: 2
        case .unmasking: 3
        case .idle, .completed, .failed: nil
        }
    }

    /// The unmasked ring sum → real weighted sum → Σw_iΔ_i / Σw_i (`WeightedInput.mean`).
    static func mean(of result: SecAggResult, parameters p: SecAggParameters) -> SecAggRoundReport.Verdict {
        let sum = p.quantiser.dequantiseSum(result.sum, clients: result.survivors.count)
        do throws(SecAggError) {
            let (mean, total) = try WeightedInput.mean(ofDequantisedSum: sum, clippingRange: p.quantiser.clippingRange)
            return .aggregated(mean: mean, weightTotal: total, survivors: result.survivors)
        } catch {
            return .failed("the unmasked sum cannot be divided: \(error)")
        }
    }

    /// A SECAGG_REPLY: authenticated like an UPDATE by its token, then handed to the stage
    /// machine. A body that does not decode drops its sender from the round, never the server.
    /// A stage-1 answer (keys) also answers the round's TRAIN.
    mutating func acceptSecAgg(_ reply: SecAggReplyMessage, from peer: Peer, now: Double) -> [Action] {
        if slotOfPeer[peer] == nil { return reset(peer) }
        if let problem = authenticate(client: reply.clientIndex, token: reply.token, peer: peer) {
            return [.ignored(peer, .unauthenticated(.secAggReply, problem))]
        }
        let client = reply.clientIndex
        var actions = heardFrom(client)
        guard case var .training(t) = phase, var s = t.secAgg, reply.round == t.round,
              let stage = SecAggBodyCodec.Stage(rawValue: reply.stage) else {
            return actions + [.ignored(peer, .secAggNotRunning(client: client, round: reply.round))]
        }
        // The stage machine's only reference from here on: with `phase` still holding it, adding
        // a masked input to its running sum would copy the whole sum first (copy on write).
        t.secAgg = nil
        phase = .training(t)
        let size = WireCodec.encodedSize(.secAggReply(reply))
        s.report.bytesUp[Int(stage.rawValue) - 1] += size
        t.traffic.up[client, default: 0] += size
        if stage == .advertiseKeys { t.pending.remove(client) }
        let produced: [SecAggServer.Action]
        do throws(SecAggError) {
            let message = try SecAggBodyCodec.decodeClient(stage: stage, body: reply.body, client: client)
            produced = s.server.receive(message, from: client)
        } catch {
            s.report.dropped[client] = "\(error)"
            produced = s.server.lost(client)
        }
        t.secAgg = s
        let (sends, verdict) = carryOut(produced, &t, now: now)
        actions += sends
        if verdict != nil { return actions + closeRound(t) }
        phase = .training(t)
        return actions
    }

    /// Clients that will answer nothing more this round (FAILURE, process lost, an UPDATE in
    /// clear): out of the SecAgg round too.
    mutating func secAggLost(_ clients: [Int], _ t: inout Training, now: Double) -> (actions: [Action], verdict: SecAggRoundReport.Verdict?) {
        guard t.secAgg != nil else { return ([], nil) }
        var produced: [SecAggServer.Action] = []
        for c in clients { produced += t.secAgg!.server.lost(c) }
        return carryOut(produced, &t, now: now)
    }

    /// The deadline of the stage being collected passed: close it with whoever answered.
    mutating func secAggDeadline(_ t: Training, now: Double) -> [Action] {
        var t = t
        let produced = t.secAgg!.server.closeStage()
        let (sends, verdict) = carryOut(produced, &t, now: now)
        if verdict != nil { return sends + closeRound(t) }
        phase = .training(t)
        return sends
    }
}
