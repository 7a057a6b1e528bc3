import AviaryMath
@testable import AviarySecAgg

typealias RoundDriver = InMemorySecAggRound

extension InMemorySecAggRound {
    /// Fixed secrets per (client, round): reproducible tests, never secret.
    static func secrets(for client: Int, round: Int) -> ClientSecrets {
        var g = RandomStream(seed: UInt64(round) << 20 | UInt64(client), purpose: .other, index: 77)
        return try! ClientSecrets(bytes: (0..<128).map { _ in UInt8(truncatingIfNeeded: g.next()) })
    }

    /// A round whose clients hold `secrets(for:round:)`.
    static func fixed(parameters: SecAggParameters, inputs: [Int: [UInt32]]) throws -> InMemorySecAggRound {
        try InMemorySecAggRound(parameters: parameters, inputs: inputs, secrets: { secrets(for: $0, round: parameters.round) })
    }
}
