/// The in-memory twin of a secure-aggregation round: one `SecAggServer` and its `SecAggClient`s
/// exchanging the stage messages directly, no sockets (tests, `aviary bench secagg`). A client
/// may die before answering a given stage; the round then waits out that stage's deadline
/// (`closeStage()`), as the real server would.
public struct InMemorySecAggRound {
    public enum Death: Sendable, Equatable { case beforeAdvertising, beforeSharing, beforeMasking, beforeUnmasking }

    public private(set) var server: SecAggServer
    public private(set) var clients: [Int: SecAggClient] = [:]
    public let inputs: [Int: [UInt32]]
    public var deaths: [Int: Death] = [:]
    /// What each client sent at the masked-input stage (what the server sees).
    public private(set) var maskedSeen: [Int: [UInt32]] = [:]
    /// Requests a client refused, with why.
    public private(set) var refusals: [Int: SecAggError] = [:]
    /// Clients the server dropped for breaking the protocol, with why.
    public private(set) var dropped: [Int: SecAggError] = [:]
    /// Rewrites a server message before it is delivered (a curious server's experiments).
    public var tamper: ((Int, SecAggServerMessage) -> SecAggServerMessage)?
    /// Stage 3 as a run's clients do it: the input laid out as its reply body
    /// (`MaskedInputBody`), masked in place, and the body decoded as the server decodes it.
    public var throughBodies = false
    /// Each client derives its pairwise-mask seeds right after answering stage 2
    /// (`SecAggClient.prepareMaskSeeds`), as a run's client host does when it is idle.
    public var prepareMaskSeeds = false

    /// - Parameters:
    ///   - inputs: every participant's quantised input.
    ///   - secrets: each client's round secrets; the system's random source unless a test fixes them.
    public init(parameters: SecAggParameters, inputs: [Int: [UInt32]],
                secrets: (Int) -> ClientSecrets = { _ in ClientSecrets.generate() }) throws(SecAggError) {
        server = SecAggServer(parameters: parameters)
        self.inputs = inputs
        for c in parameters.participants {
            clients[c] = try SecAggClient(index: c, parameters: parameters, secrets: secrets(c))
        }
    }

    /// Runs the round to its verdict: the result, or the reason it failed.
    public mutating func run() -> Result<SecAggResult, SecAggError> {
        var queue = server.start()
        while true {
            while !queue.isEmpty {
                let action = queue.removeFirst()
                switch action {
                case .completed(let r): return .success(r)
                case .failed(let e): return .failure(e)
                case .dropped(let c, let e): dropped[c] = e
                case .send(let to, let message):
                    if let reply = deliver(tamper?(to, message) ?? message, to: to) { queue += server.receive(reply, from: to) }
                }
            }
            queue = server.closeStage()  // the deadline of a stage someone did not answer
            if queue.isEmpty { return .failure(.invalidParameters("the round stalled at \(server.stage)")) }
        }
    }

    private mutating func deliver(_ message: SecAggServerMessage, to c: Int) -> SecAggClientMessage? {
        let death = deaths[c]
        do throws(SecAggError) {
            switch message {
            case .advertiseKeys:
                if death == .beforeAdvertising { return nil }
                return .keys(try clients[c]!.advertiseKeys())
            case .shareKeys(let keys):
                if death == .beforeSharing { return nil }
                let shares = try clients[c]!.shareKeys(keys)
                if prepareMaskSeeds { try clients[c]!.prepareMaskSeeds() }
                return .shares(shares)
            case .maskInput(let shares):
                if death == .beforeMasking { return nil }
                let m: MaskedInput
                if throughBodies {
                    let body = try clients[c]!.maskInput(shares: shares, body: MaskedInputBody(words: inputs[c]!))
                    guard case .masked(let decoded) = try SecAggBodyCodec.decodeClient(stage: .maskedInput, body: body.bytes, client: c) else {
                        throw .unexpectedStage(expected: "masked-input", got: "another stage's body")
                    }
                    m = decoded
                } else {
                    m = try clients[c]!.maskInput(shares: shares, input: inputs[c]!)
                }
                maskedSeen[c] = m.values
                return .masked(m)
            case .unmask(let request):
                if death == .beforeUnmasking { return nil }
                return .unmasked(try clients[c]!.unmask(request))
            }
        } catch {
            refusals[c] = error
            return nil
        }
    }
}
