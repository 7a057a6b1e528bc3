import AviaryMath

/// Evaluation that the server's state machine runs between rounds with protocol 5's EVALUATE
/// (docs/PROTOCOL.md, "Roles and evaluation"): after the merge of every `every`-th round and of
/// the last, the model `MODEL(round + 1)` goes to the evaluating processes with an EVALUATE, and
/// the next round starts once every asked result is in, or `timeout` seconds passed.
public struct EvaluationPlan: Sendable, Equatable {
    /// Registered clients evaluate on their own held-out split (`[evaluation] mode = "federated"`).
    public var federated: Bool
    /// How many registered clients evaluate (a seeded sample, from the sampling seed's own
    /// stream); nil: every registered client.
    public var clients: Int?
    /// The evaluator connection (HELLO role 1) evaluates on the centralised test set; the server
    /// accepts one only when this is set.
    public var evaluator: Bool
    public var every: Int
    /// Seconds to wait for the results (the topology's round timeout).
    public var timeout: Double
    /// Per-evaluation scalars sent with every EVALUATE.
    public var config: [String: Double]
    /// Robust evaluation every this many rounds (and after the last): those EVALUATEs carry
    /// `robust` = 1 in their config. nil: none asks for it.
    public var robustEvery: Int?

    public init(federated: Bool, clients: Int? = nil, evaluator: Bool, every: Int, timeout: Double, config: [String: Double] = [:],
                robustEvery: Int? = nil) {
        self.federated = federated; self.clients = clients; self.evaluator = evaluator
        self.every = max(1, every); self.timeout = timeout; self.config = config
        self.robustEvery = robustEvery.map { max(1, $0) }
    }

    /// The EVALUATE config after `round`'s merge: `config`, plus `robust` = 1 on robust rounds.
    public func config(round: Int, rounds: Int) -> [String: Double] {
        guard let r = robustEvery, round % r == 0 || round == rounds else { return config }
        var c = config
        c["robust"] = 1
        return c
    }

    /// Whether the model after `round`'s merge is evaluated.
    public func isDue(round: Int, rounds: Int) -> Bool { round % every == 0 || round == rounds }

    /// The clients that evaluate after `round`: all `registered`, or a sample of `clients` of
    /// them; ascending. Depends only on (sampling seed, round, registered set).
    public func evaluating(registered: [Int], seed: UInt64, round: Int) -> [Int] {
        guard federated else { return [] }
        guard let count = clients, count < registered.count else { return registered.sorted() }
        var pool = registered.sorted()
        var rng = RandomStream(seed: seed, purpose: .evaluation, index: UInt64(round))
        for i in 0..<count {
            pool.swapAt(i, i + rng.nextInt(below: pool.count - i))
        }
        return Array(pool[0..<count]).sorted()
    }
}

/// What one evaluation produced (the model after `round`'s merge, sent as `MODEL(round + 1)`):
/// the valid results, the refused ones with why, and who did not answer.
public struct EvaluationOutcome: Sendable, Equatable {
    public struct Refused: Sendable, Equatable {
        public var client: Int
        public var reason: String
        public init(client: Int, reason: String) { self.client = client; self.reason = reason }
    }
    public var round: Int
    /// Clients asked (the evaluator is index −1, first when asked).
    public var asked: [Int]
    /// Valid results by client index, ascending (the evaluator's, index −1, first).
    public var results: [EvalResultMessage]
    /// Results that reported an error or failed the checks (non-finite or missing metrics, no samples).
    public var refused: [Refused]
    /// Asked and not answered: the deadline passed or the process was lost.
    public var missing: [Int]

    public init(round: Int, asked: [Int], results: [EvalResultMessage], refused: [Refused], missing: [Int]) {
        self.round = round; self.asked = asked; self.results = results; self.refused = refused; self.missing = missing
    }

    /// The evaluator's result, if it sent a valid one.
    public var evaluator: EvalResultMessage? { results.first { $0.clientIndex == EvalResultMessage.evaluatorIndex } }
    /// The clients' valid results (federated evaluation).
    public var clients: [EvalResultMessage] { results.filter { $0.clientIndex >= 0 } }

    /// Why a result cannot count, or nil: an error, no samples, a non-finite metric, or no
    /// `loss`/`accuracy`.
    public static func problem(_ r: EvalResultMessage) -> String? {
        if !r.error.isEmpty { return "evaluation failed: \(r.error)" }
        if r.samples <= 0 { return "no samples evaluated (\(r.samples))" }
        for (key, value) in r.metrics.sorted(by: { $0.key < $1.key }) where !value.isFinite {
            return "metric '\(key)' is \(value), not a finite number"
        }
        for key in ["loss", "accuracy"] where r.metrics[key] == nil { return "metric '\(key)' is missing" }
        return nil
    }

    /// The sample-weighted mean of `key` over `results` that report it, with the samples it
    /// covers; nil when none does.
    public static func weightedMean(_ key: String, over results: [EvalResultMessage]) -> (mean: Double, samples: Int)? {
        var sum = 0.0, samples = 0
        for r in results { if let v = r.metrics[key] { sum += v * Double(r.samples); samples += r.samples } }
        return samples > 0 ? (sum / Double(samples), samples) : nil
    }
}
