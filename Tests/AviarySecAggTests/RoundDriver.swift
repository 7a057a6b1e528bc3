import AviaryMath
@testable import AviarySecAgg

/// The in-memory twin of a secure-aggregation round: one server and its clients exchanging the
/// stage messages directly. A client may die before answering a given stage; the round then
/// waits out that stage's deadline (`closeStage()`), as the real server would.
struct RoundDriver {
    enum Death: Equatable { case beforeAdvertising, beforeSharing, beforeMasking, beforeUnmasking }

    var server: SecAggServer
    var clients: [Int: SecAggClient] = [:]
    let inputs: [Int: [UInt32]]
    var deaths: [Int: Death] = [:]
    /// What each client sent at the masked-input stage, for the uniformity test.
    var maskedSeen: [Int: [UInt32]] = [:]
    var refusals: [Int: SecAggError] = [:]
    var dropped: [Int: SecAggError] = [:]
    /// Rewrites a server message before it is delivered (a curious server's experiments).
    var tamper: ((Int, SecAggServerMessage) -> SecAggServerMessage)?

    static func secrets(for client: Int, round: Int) -> ClientSecrets {
        var g = RandomStream(seed: UInt64(round) << 20 | UInt64(client), purpose: .other, index: 77)
        return try! ClientSecrets(bytes: (0..<128).map { _ in UInt8(truncatingIfNeeded: g.next()) })
    }

    init(parameters: SecAggParameters, inputs: [Int: [UInt32]]) throws {
        server = SecAggServer(parameters: parameters)
        self.inputs = inputs
        for c in parameters.participants {
            clients[c] = try SecAggClient(index: c, parameters: parameters, secrets: Self.secrets(for: c, round: parameters.round))
        }
    }

    /// Runs the round to its verdict: the result, or the reason it failed.
    mutating func run() -> Result<SecAggResult, SecAggError> {
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
        do {
            switch message {
            case .advertiseKeys:
                if death == .beforeAdvertising { return nil }
                return .keys(try clients[c]!.advertiseKeys())
            case .shareKeys(let keys):
                if death == .beforeSharing { return nil }
                return .shares(try clients[c]!.shareKeys(keys))
            case .maskInput(let shares):
                if death == .beforeMasking { return nil }
                let m = try clients[c]!.maskInput(shares: shares, input: inputs[c]!)
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
