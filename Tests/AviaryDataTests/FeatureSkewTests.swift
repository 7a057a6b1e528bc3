import Testing
@testable import AviaryData

@Suite struct FeatureSkewTests {
    /// One 3×3 image with a single bright pixel at row 0, column 1 (top middle).
    static let image = Dataset(features: [0, 1, 0, 0, 0, 0, 0, 0, 0], labels: [0], sampleShape: [1, 3, 3], classes: 1, valueRange: 0...1)

    func transform(degrees: Double = 0, noise: Double = 0, shift: Double = 0) -> ClientFeatureTransform {
        ClientFeatureTransform(client: 0, seed: 1, rotationDegrees: degrees, noiseStd: noise, brightnessShift: shift)
    }

    @Test func quarterTurnMovesPixelExactly() throws {
        // +90° turns the image clockwise as displayed (y down): top middle → middle right.
        let out = try transform(degrees: 90).apply(to: Self.image, split: .train)
        let expected: [Float] = [0, 0, 0, 0, 0, 1, 0, 0, 0]
        for (a, b) in zip(out.features, expected) { #expect(abs(a - b) < 1e-6) }
        let back = try transform(degrees: -90).apply(to: out, split: .train)
        for (a, b) in zip(back.features, Self.image.features) { #expect(abs(a - b) < 1e-6) }
    }

    @Test func brightnessShiftsAndClamps() throws {
        let out = try transform(shift: 0.25).apply(to: Self.image, split: .train)
        #expect(out.features == [0.25, 1, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25])
    }

    @Test func noiseIsSeededPerSplit() throws {
        let t = transform(noise: 0.1)
        let unbounded = Dataset(features: [Float](repeating: 0, count: 900), labels: [Int32](repeating: 0, count: 100),
                                sampleShape: [9], classes: 1)
        let a = try t.apply(to: unbounded, split: .train), b = try t.apply(to: unbounded, split: .train)
        let c = try t.apply(to: unbounded, split: .test)
        #expect(a == b && a != c)
        let std = (a.features.reduce(0) { $0 + Double($1 * $1) } / 900).squareRoot()
        #expect(abs(std - 0.1) < 0.01)
    }

    @Test func perClientParametersFollowTheSpec() {
        let skew = FeatureSkew(maxRotationDegrees: 20, noiseStd: 0.3, brightnessRange: 0.1...0.2)
        let transforms = (0..<4).map { skew.transform(client: $0, clients: 4, seed: 5) }
        for (t, expected) in zip(transforms, [0, 0.1, 0.2, 0.3]) { #expect(abs(t.noiseStd - expected) < 1e-12) }
        #expect(transforms.allSatisfy { abs($0.rotationDegrees) <= 20 && (0.1...0.2).contains($0.brightnessShift) })
        #expect(Set(transforms.map(\.rotationDegrees)).count == 4)
        #expect(skew.transform(client: 2, clients: 4, seed: 5) == transforms[2])
        #expect(!FeatureSkew().isActive && skew.isActive)
    }

    @Test func rotationOfNonImagesIsRejected() {
        let flat = Dataset(features: [1, 2], labels: [0], sampleShape: [2], classes: 1)
        #expect(throws: DatasetError.self) { try transform(degrees: 10).apply(to: flat, split: .train) }
    }
}
