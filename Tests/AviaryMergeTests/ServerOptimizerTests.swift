import Testing
@testable import AviaryMerge

/// Two steps of each server optimiser, deltas (+1 … ) checked against hand / NumPy-in-Float32 values.
@Suite struct ServerOptimizerTests {
    private func run(_ spec: ServerOptimizerSpec, deltas: [Float], start: Float = 1) throws -> [Float] {
        var optimizer = try ServerOptimizer(spec: spec)
        var global: [Float] = [start]
        var trace: [Float] = []
        for d in deltas {
            try optimizer.apply(delta: [d], to: &global)
            trace.append(global[0])
        }
        #expect(optimizer.steps == deltas.count)
        return trace
    }

    @Test func sgdScalesTheDelta() throws {
        #expect(try run(.sgd(lr: 0.5), deltas: [2, -4]) == [2, 0])
    }

    @Test func fedavgmAccumulatesVelocity() throws {
        // m = 2 → x = 3; m = 0.5·2 − 4 = −3 → x = 0.
        #expect(try run(.fedavgm(lr: 1, momentum: 0.5), deltas: [2, -4]) == [3, 0])
    }

    @Test func fedadamTwoSteps() throws {
        // v₀ = τ² = 0.01; step 1: m = 0.1, v = 0.0199; step 2: m = 0.04, v = 0.022201.
        let trace = try run(.fedadam(lr: 0.1, beta1: 0.9, beta2: 0.99, tau: 0.1), deltas: [1, -0.5])
        #expect(Fixtures.close(trace, [1.0414822, 1.0575465]))
    }

    @Test func fedyogiTwoSteps() throws {
        // Yogi grows v additively while v < Δ²: v = 0.02, then 0.0225.
        let trace = try run(.fedyogi(lr: 0.1, beta1: 0.9, beta2: 0.99, tau: 0.1), deltas: [1, -0.5])
        #expect(Fixtures.close(trace, [1.0414214, 1.0574214]))
    }

    @Test func stateRoundTripsThroughCodable() throws {
        var optimizer = try ServerOptimizer(spec: .fedadam(lr: 0.1, beta1: 0.9, beta2: 0.99, tau: 0.1))
        var global: [Float] = [1, 2]
        try optimizer.apply(delta: [1, -1], to: &global)
        let data = try JSONEncoder().encode(optimizer)
        var resumed = try JSONDecoder().decode(ServerOptimizer.self, from: data)
        #expect(resumed == optimizer)
        var a = global, b = global
        try optimizer.apply(delta: [0.5, 0.25], to: &a)
        try resumed.apply(delta: [0.5, 0.25], to: &b)
        #expect(a == b)
    }

    @Test func mismatchedLengthsThrow() throws {
        var optimizer = try ServerOptimizer(spec: .fedavgm(lr: 1, momentum: 0.9))
        var global: [Float] = [0, 0]
        #expect(throws: ServerOptimizerError.self) { try optimizer.apply(delta: [1], to: &global) }
        try optimizer.apply(delta: [1, 1], to: &global)
        var longer: [Float] = [0, 0, 0]
        #expect(throws: ServerOptimizerError.self) { try optimizer.apply(delta: [1, 1, 1], to: &longer) }
    }

    @Test func invalidHyperparametersAreNamed() {
        #expect(throws: MergeConfigError.self) { try ServerOptimizer(spec: .sgd(lr: 0)) }
        #expect(throws: MergeConfigError.self) { try ServerOptimizer(spec: .fedavgm(lr: 1, momentum: 1)) }
        #expect(throws: MergeConfigError.self) { try ServerOptimizer(spec: .fedyogi(lr: 1, beta1: 0.9, beta2: 0.99, tau: 0)) }
        do {
            _ = try ServerOptimizer(spec: .fedadam(lr: 1, beta1: 1.5, beta2: 0.99, tau: 0.1))
            Issue.record("beta1 1.5 accepted")
        } catch {
            #expect("\(error)".contains("beta1"))
        }
    }
}

import Foundation
