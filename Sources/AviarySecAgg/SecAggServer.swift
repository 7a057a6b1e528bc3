/// The server's side of one secure-aggregation round as a value: client messages in, messages
/// to send and the round's verdict out. The host decides when a stage's deadline passed
/// (`closeStage()`) and when a client's process was lost (`lost(_:)`); a stage also closes by
/// itself once every client still in the round answered.
///
/// Stages (Bonawitz et al. 2017 on SecAgg+'s neighbour graph): advertise keys (U1 answer),
/// share keys (U2), masked input (U3), unmasking (U4). A message that breaks the protocol drops
/// its sender from the round (`dropped`), never the server. A stage that ends with fewer than
/// t clients, or a secret with fewer than t shares, fails the round with the reason.
public struct SecAggServer: Sendable {
    public enum Stage: String, Sendable, Equatable {
        case idle, advertising = "advertise-keys", sharing = "share-keys", masking = "masked-input",
             unmasking = "unmasking", completed, failed
    }

    public enum Action: Sendable, Equatable {
        case send(to: Int, SecAggServerMessage)
        /// The client broke the protocol and leaves the round; the error says how.
        case dropped(client: Int, reason: SecAggError)
        case completed(SecAggResult)
        case failed(SecAggError)
    }

    public let parameters: SecAggParameters
    public private(set) var stage: Stage = .idle
    /// Clients that may still answer the current stage.
    private var expected: Set<Int> = []
    var keys: [Int: AdvertisedKeys] = [:]
    var shares: [Int: [EncryptedShare]] = [:]
    /// U3 so far: the clients whose masked input was accepted.
    var maskedClients: Set<Int> = []
    /// Σ of their masked inputs mod 2^b, added as each arrives (empty before the first): the
    /// server keeps one vector, not one per client, and the round's end has no sum left to do.
    var maskedSum: [UInt32] = []
    var requests: [Int: UnmaskRequest] = [:]
    var replies: [Int: UnmaskReply] = [:]

    public init(parameters: SecAggParameters) { self.parameters = parameters }

    /// Stage 1 for every participant.
    public mutating func start() -> [Action] {
        guard stage == .idle else { return [] }
        stage = .advertising
        expected = Set(parameters.participants)
        return parameters.participants.map { .send(to: $0, .advertiseKeys(parameters)) }
    }

    /// A client's answer. Answers from clients the stage does not expect (late, twice, another
    /// stage) drop nobody who is already out; a wrong answer from an expected client drops it.
    public mutating func receive(_ message: SecAggClientMessage, from client: Int) -> [Action] {
        guard expected.contains(client) else {
            guard parameters.participants.contains(client) else { return [.dropped(client: client, reason: .unknownClient(client))] }
            return []  // already answered or already out: nothing changes
        }
        do throws(SecAggError) {
            switch (stage, message) {
            case (.advertising, .keys(let k)): try acceptKeys(k, from: client)
            case (.sharing, .shares(let s)): try acceptShares(s, from: client)
            case (.masking, .masked(let m)): try acceptMasked(m, from: client)
            case (.unmasking, .unmasked(let r)): try acceptReply(r, from: client)
            default: throw SecAggError.unexpectedStage(expected: stage.rawValue, got: message.stageName)
            }
        } catch {
            expected.remove(client)
            return [.dropped(client: client, reason: error)] + (expected.isEmpty ? closeStage() : [])
        }
        expected.remove(client)
        return expected.isEmpty ? closeStage() : []
    }

    /// The client's process is gone: it answers nothing more this round.
    public mutating func lost(_ client: Int) -> [Action] {
        guard expected.remove(client) != nil else { return [] }
        return expected.isEmpty ? closeStage() : []
    }

    /// Ends the current stage with whoever answered (its deadline passed, or everyone did).
    public mutating func closeStage() -> [Action] {
        expected = []
        switch stage {
        case .advertising:
            if let failed = failIfTooFew(keys.count, .advertising) { return failed }
            stage = .sharing
            expected = Set(keys.keys)
            return keys.keys.sorted().map { client in
                .send(to: client, .shareKeys(parameters.graph.neighbours(of: client).compactMap { keys[$0] }))
            }
        case .sharing:
            if let failed = failIfTooFew(shares.count, .sharing) { return failed }
            stage = .masking
            expected = Set(shares.keys)
            var inbox: [Int: [EncryptedShare]] = [:]
            for sender in shares.keys.sorted() { for s in shares[sender]! where shares[s.to] != nil { inbox[s.to, default: []].append(s) } }
            return shares.keys.sorted().map { .send(to: $0, .maskInput(inbox[$0] ?? [])) }
        case .masking:
            if let failed = failIfTooFew(maskedClients.count, .masking) { return failed }
            stage = .unmasking
            expected = maskedClients
            var actions: [Action] = []
            for client in maskedClients.sorted() {
                // Neighbours whose shares the client holds: those that shared (U2).
                let held = parameters.graph.neighbours(of: client).filter { shares[$0] != nil }
                let request = UnmaskRequest(survivors: held.filter { maskedClients.contains($0) }, dropped: held.filter { !maskedClients.contains($0) })
                requests[client] = request
                actions.append(.send(to: client, .unmask(request)))
            }
            return actions
        case .unmasking:
            if let failed = failIfTooFew(replies.count, .unmasking) { return failed }
            do throws(SecAggError) {
                let result = try unmaskedSum()
                stage = .completed
                return [.completed(result)]
            } catch {
                return fail(error)
            }
        case .idle, .completed, .failed:
            return []
        }
    }

    /// How many clients answered each stage so far: U1, U2, U3, U4.
    public var survivorsPerStage: [Int] { [keys.count, shares.count, maskedClients.count, replies.count] }

    /// Fails the round when a stage ended with fewer than t clients (Bonawitz et al.'s |U_i| ≥ t).
    private mutating func failIfTooFew(_ count: Int, _ stage: Stage) -> [Action]? {
        count >= parameters.threshold ? nil : fail(.tooFewSurvivors(stage: stage.rawValue, have: count, threshold: parameters.threshold))
    }

    private mutating func fail(_ error: SecAggError) -> [Action] {
        stage = .failed
        expected = []
        return [.failed(error)]
    }
}
