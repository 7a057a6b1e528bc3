import AviaryProtocol

/// The frames of Tests/Vectors/: one per message kind (and per role or outcome where the body
/// differs) and one UPDATE per delta encoding, each with the fields a codec in another language
/// (python/aviary_client) checks its decoder against, and for deltas the input floats, the
/// expected decoded floats and, for top-k, the error-feedback residuals before and after.
/// `SharedVectorTests` checks that the encoder writes exactly these bytes.
enum SharedVectors {
    struct Vector {
        var file: String
        var message: Message
        /// The message's body fields by docs/PROTOCOL.md's names.
        var fields: [String: ManifestValue]
        /// For UPDATE vectors: how the delta was made and what it decodes to.
        var delta: [String: ManifestValue]? = nil
    }

    static let tokenA: SessionToken = 0x0123_4567_89AB_CDEF
    static let tokenB: SessionToken = 0xFEDC_BA98_7654_3210  // above 2^63: a u64, not an i64
    static let evaluatorToken: SessionToken = 0x8000_0000_0000_0001
    /// The model of every vector: one Dense layer "fc", 3 inputs, 2 classes (8 parameters).
    static let tensorSizes = [6, 2]
    static let runSpec = Array(#"{"name":"vectors","tensors":[{"dtype":"F32","name":"fc.weight","shape":[2,3]},{"dtype":"F32","name":"fc.bias","shape":[2]}]}"#.utf8)
    static let trainMetrics: [String: Double] = ["train_loss": 0.6931471805599453, "local_steps": 19, "samples": 600]

    static var all: [Vector] {
        var v: [Vector] = []
        let hello = HelloMessage(processName: "python-0", role: .trainer, claims: [
            ClientClaim(index: 0, token: tokenA), ClientClaim(index: 3, token: tokenB), ClientClaim(index: nil, token: 0),
        ])
        v.append(Vector(file: "hello.bin", message: .hello(hello), fields: [
            "processName": .string(hello.processName), "role": .int(0),
            "claims": .array(hello.claims.map { .object(["index": $0.index.map { .int($0) } ?? .null, "token": .uint($0.token)]) }),
        ]))
        v.append(Vector(file: "hello-evaluator.bin", message: .hello(HelloMessage(processName: "evaluator", role: .evaluator, claims: [])),
                        fields: ["processName": .string("evaluator"), "role": .int(1), "claims": .array([])]))
        let refused = WelcomeMessage.Refused(reason: .stated("held by a live process"), retry: true, claims: 3, indices: [5...5, 7...8])
        v.append(welcome("welcome.bin", accepted: [.init(index: 0, token: tokenA), .init(index: 3, token: tokenB)], refused: [refused]))
        v.append(welcome("welcome-evaluator.bin", accepted: [.init(index: EvalResultMessage.evaluatorIndex, token: evaluatorToken)], refused: []))
        v.append(welcome("welcome-evaluator-refused.bin", accepted: [], refused: [
            .init(reason: .stated("an evaluator is already connected"), retry: true, claims: 1, indices: []),
        ]))
        let reason = "protocol version 4 is not supported (this build speaks 5)"
        v.append(Vector(file: "reject.bin", message: .reject(RejectMessage(reason: reason)), fields: ["reason": .string(reason)]))
        v.append(Vector(file: "train.bin", message: .train(TrainMessage(round: 3, clients: [0, 3], config: ["lr": 0.05, "local_epochs": 1])),
                        fields: ["round": .int(3), "clients": .ints([0, 3]), "config": .doubles(["lr": 0.05, "local_epochs": 1])]))
        v += deltaVectors
        v.append(Vector(file: "failure.bin", message: .failure(FailureMessage(round: 3, clientIndex: 0, token: tokenA, reason: "fit raised ValueError: bad batch")),
                        fields: ["round": .int(3), "clientIndex": .int(0), "token": .uint(tokenA), "reason": .string("fit raised ValueError: bad batch")]))
        v.append(Vector(file: "heartbeat.bin", message: .heartbeat, fields: [:]))
        v.append(Vector(file: "shutdown.bin", message: .shutdown(ShutdownMessage(reason: "completed 5 rounds")), fields: ["reason": .string("completed 5 rounds")]))
        v.append(Vector(file: "bye.bin", message: .bye(ByeMessage(clients: [0, 3])), fields: ["clients": .ints([0, 3])]))
        let parameters: [Float] = [0.25, -0.5, 1.5, 3.0e-8, -65504, 0.1, 0, 2]
        v.append(Vector(file: "model.bin", message: .model(ModelMessage(round: 3, parameters: parameters)),
                        fields: ["round": .int(3), "parameters": .floats(parameters), "parameters_bits": .floatBits(parameters)]))
        let reset = "unknown connection: the server restarted; say HELLO again"
        v.append(Vector(file: "reset.bin", message: .reset(ResetMessage(reason: reset)), fields: ["reason": .string(reset)]))
        v.append(Vector(file: "evaluate.bin", message: .evaluate(EvaluateMessage(round: 3, clients: [0, 3], config: [:])),
                        fields: ["round": .int(3), "clients": .ints([0, 3]), "config": .doubles([:])]))
        v.append(Vector(file: "evaluate-evaluator.bin", message: .evaluate(EvaluateMessage(round: 6, clients: [], config: [:])),
                        fields: ["round": .int(6), "clients": .ints([]), "config": .doubles([:])]))
        v.append(evalResult("eval-result.bin", EvalResultMessage(round: 3, clientIndex: 3, token: tokenB, samples: 150, metrics: [
            "loss": 0.4375, "accuracy": 0.84, "robust_loss": 1.25, "robust_accuracy": 0.52,
        ])))
        v.append(evalResult("eval-result-evaluator.bin", EvalResultMessage(round: 6, clientIndex: -1, token: evaluatorToken, samples: 10000,
                                                                            metrics: ["loss": 0.3515625, "accuracy": 0.8731])))
        v.append(evalResult("eval-result-error.bin", EvalResultMessage(round: 3, clientIndex: 0, token: tokenA, samples: 0, metrics: [:],
                                                                        error: "evaluate raised RuntimeError: out of memory")))
        // Protocol 6's secure-aggregation envelopes; the stage bodies are AviarySecAgg's (section 8).
        let unmask: [UInt8] = [1, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 6, 0, 0, 0]  // survivors [4], dropped [6]
        v.append(Vector(file: "secagg.bin", message: .secAgg(SecAggMessage(round: 3, clientIndex: 3, stage: 4, body: unmask)),
                        fields: ["round": .int(3), "clientIndex": .int(3), "stage": .int(4), "body": .ints(unmask.map(Int.init))]))
        let keys: [UInt8] = (0..<64).map { UInt8($0 * 3 % 256) }  // two 32-byte public keys
        v.append(Vector(file: "secagg-reply.bin",
                        message: .secAggReply(SecAggReplyMessage(round: 3, clientIndex: 3, token: tokenB, stage: 1, body: keys)),
                        fields: ["round": .int(3), "clientIndex": .int(3), "token": .uint(tokenB), "stage": .int(1),
                                 "body": .ints(keys.map(Int.init))]))
        return v
    }

    static func welcome(_ file: String, accepted: [WelcomeMessage.Accepted], refused: [WelcomeMessage.Refused]) -> Vector {
        let w = WelcomeMessage(accepted: accepted, refused: refused, heartbeatInterval: 2, liveness: 3, runSpec: runSpec)
        return Vector(file: file, message: .welcome(w), fields: [
            "accepted": .array(accepted.map { .object(["index": .int($0.index), "token": .uint($0.token)]) }),
            "refused": .array(refused.map {
                .object(["reason": .string($0.reason.description), "retry": .bool($0.retry), "claims": .int($0.claims),
                         "ranges": .array($0.indices.map { .ints([$0.lowerBound, $0.upperBound]) })])
            }),
            "heartbeatInterval": .double(2), "liveness": .int(3), "runSpec": .string(String(decoding: runSpec, as: UTF8.self)),
        ])
    }

    static func evalResult(_ file: String, _ e: EvalResultMessage) -> Vector {
        Vector(file: file, message: .evalResult(e), fields: [
            "round": .int(e.round), "clientIndex": .int(e.clientIndex), "token": .uint(e.token), "samples": .int(e.samples),
            "metrics": .doubles(e.metrics), "error": .string(e.error),
        ])
    }

    static func update(_ file: String, payload: DeltaPayload, metrics: [String: Double], payloadFields: [String: ManifestValue],
                       delta: [String: ManifestValue]) -> Vector {
        let u = UpdateMessage(round: 3, clientIndex: 3, token: tokenB, samples: 600, metrics: metrics, payload: payload)
        var d = payloadFields
        d["tag"] = .int(Int(payload.tag))
        return Vector(file: file, message: .update(u), fields: [
            "round": .int(3), "clientIndex": .int(3), "token": .uint(tokenB), "samples": .int(600),
            "metrics": .doubles(metrics), "delta": .object(d),
        ], delta: delta)
    }

    /// One UPDATE per encoding, made by the codec from the input floats (f16 clamps two values,
    /// int8 has an all-zero tensor, top-k has a tie at the boundary and a residual).
    static var deltaVectors: [Vector] {
        func format(_ e: DeltaEncoding) -> DeltaFormat { DeltaFormat(encoding: e, tensorSizes: tensorSizes) }
        func decoded(_ p: DeltaPayload, _ e: DeltaEncoding) -> [Float] { try! DeltaCodec.decode(p, format: format(e)) }
        func described(_ e: DeltaEncoding, input: [Float], payload: DeltaPayload) -> [String: ManifestValue] {
            var d: [String: ManifestValue] = ["encoding": .string(e.name), "tensor_sizes": .ints(tensorSizes),
                                              "input": .floats(input), "input_bits": .floatBits(input)]
            let out = decoded(payload, e)
            d["decoded"] = .floats(out); d["decoded_bits"] = .floatBits(out)
            return d
        }
        var v: [Vector] = []

        let f32Input: [Float] = [0.5, -0.25, 0.001, 3.0e38, .leastNonzeroMagnitude, 0.125, -1.5, 0]
        let f32 = DeltaCodec.encode(f32Input, format: format(.f32)).payload
        v.append(update("update-f32.bin", payload: f32, metrics: trainMetrics,
                        payloadFields: ["values": .floats(f32Input), "values_bits": .floatBits(f32Input)],
                        delta: described(.f32, input: f32Input, payload: f32)))

        let f16Input: [Float] = [0.5, -0.25, 0.001, 70000, -3.0e-6, 0.1, -1.5, 65519.99]
        let f16 = DeltaCodec.encode(f16Input, format: format(.f16))
        guard case let .f16(bits) = f16.payload else { fatalError("f16 encoder made \(f16.payload.encodingName)") }
        var f16Metrics = trainMetrics
        f16Metrics["f16_clamped"] = Double(f16.clamped)
        v.append(update("update-f16.bin", payload: f16.payload, metrics: f16Metrics,
                        payloadFields: ["bits": .ints(bits.map(Int.init))],
                        delta: described(.f16, input: f16Input, payload: f16.payload).merging(["clamped": .int(f16.clamped)]) { $1 }))

        let int8Input: [Float] = [0.5, -0.25, 0.001, 1.27, -0.635, 0.3, 0, 0]
        let int8 = DeltaCodec.encode(int8Input, format: format(.int8)).payload
        guard case let .int8(scales, values) = int8 else { fatalError("int8 encoder made \(int8.encodingName)") }
        v.append(update("update-int8.bin", payload: int8, metrics: trainMetrics,
                        payloadFields: ["scales": .floats(scales), "scales_bits": .floatBits(scales), "values": .ints(values.map(Int.init))],
                        delta: described(.int8, input: int8Input, payload: int8)))

        let topkInput: [Float] = [0.125, 0.25, -1, 0.375, 0, -0.75, 0, 0]
        let before: [Float] = [0, 0.5, 0, 0, 0, 0, 0, -0.25]
        var residual: [Float]? = before
        let fraction = 0.25
        let topk = TopKSparsifier.step(delta: topkInput, residual: &residual, k: format(.topk(fraction: fraction)).topkCount)
        guard case let .topk(length, indices, topValues) = topk else { fatalError("top-k step made \(topk.encodingName)") }
        var topkDelta = described(.topk(fraction: fraction), input: topkInput, payload: topk)
        topkDelta["fraction"] = .double(fraction)
        topkDelta["k"] = .int(indices.count)
        topkDelta["residual_before"] = .floats(before)
        topkDelta["residual_after"] = .floats(residual!)
        v.append(update("update-topk.bin", payload: topk, metrics: trainMetrics,
                        payloadFields: ["length": .int(length), "indices": .ints(indices.map(Int.init)),
                                        "values": .floats(topValues), "values_bits": .floatBits(topValues)],
                        delta: topkDelta))
        return v
    }
}

/// A JSON value for the manifest; `Encodable` with sorted keys, so regenerating gives the same bytes.
indirect enum ManifestValue: Encodable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case uint(UInt64)
    case double(Double)
    case float(Float)
    case string(String)
    case array([ManifestValue])
    case object([String: ManifestValue])

    static func ints(_ v: [Int]) -> ManifestValue { .array(v.map { .int($0) }) }
    static func floats(_ v: [Float]) -> ManifestValue { .array(v.map { .float($0) }) }
    /// f32 values as their u32 bit patterns: exact whatever a JSON parser does with decimals.
    static func floatBits(_ v: [Float]) -> ManifestValue { .array(v.map { .uint(UInt64($0.bitPattern)) }) }
    static func doubles(_ m: [String: Double]) -> ManifestValue { .object(m.mapValues { .double($0) }) }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case let .bool(b): try c.encode(b)
        case let .int(i): try c.encode(i)
        case let .uint(u): try c.encode(u)
        case let .double(d): try c.encode(d)
        case let .float(f): try c.encode(f)
        case let .string(s): try c.encode(s)
        case let .array(a): try c.encode(a)
        case let .object(o): try c.encode(o)
        }
    }
}
