import AviaryMath
import Foundation

/// One client's concrete feature-skew parameters and their application to a dataset.
public struct ClientFeatureTransform: Codable, Sendable, Hashable {
    public var client: Int
    public var seed: UInt64
    public var rotationDegrees: Double
    public var noiseStd: Double
    public var brightnessShift: Double

    /// Which of the client's splits is transformed; each gets its own noise stream.
    public enum Split: UInt64, Sendable { case train = 1, test = 2 }

    /// Rotates (bilinear, about the image centre, zero fill; positive degrees turn clockwise as displayed), shifts brightness, adds noise, then
    /// clamps to the dataset's `valueRange`. Throws when rotation is asked of non-image data.
    public func apply(to data: Dataset, split: Split) throws -> Dataset {
        // A skewed client gets its own Float32 copy (the noise stream runs over the whole split
        // in order, so it cannot be applied batch by batch without changing the values).
        let source = data.features
        var values = source
        let width = data.featureCount
        if rotationDegrees != 0 {
            guard data.sampleShape.count >= 2 else {
                throw DatasetError.invalidParameter(source: "feature skew", problem: "rotation needs image samples (shape [C,H,W] or [H,W]) but samples have shape \(data.sampleShape); set max rotation to 0")
            }
            let h = data.sampleShape[data.sampleShape.count - 2], w = data.sampleShape[data.sampleShape.count - 1]
            values.withUnsafeMutableBufferPointer { dst in
                source.withUnsafeBufferPointer { src in
                    for plane in 0..<(data.count * width / (h * w)) {
                        rotate(src.baseAddress! + plane * h * w, dst.baseAddress! + plane * h * w, h: h, w: w)
                    }
                }
            }
        }
        if brightnessShift != 0 || noiseStd != 0 {
            var rng = RandomStream(seed: seed, purpose: .featureSkew, index: UInt64(client) &* 3 &+ split.rawValue)
            let shift = Float(brightnessShift)
            for i in values.indices {
                var v = values[i] + shift
                if noiseStd != 0 { v += Float(noiseStd * rng.normal()) }
                values[i] = v
            }
        }
        if let range = data.valueRange {
            for i in values.indices { values[i] = min(max(values[i], range.lowerBound), range.upperBound) }
        }
        return Dataset(features: values, labels: data.labels, sampleShape: data.sampleShape, classes: data.classes,
                       valueRange: data.valueRange, owners: data.owners)
    }

    /// Inverse-maps each output pixel into the source and interpolates bilinearly.
    private func rotate(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, h: Int, w: Int) {
        let theta = rotationDegrees * Double.pi / 180
        let c = Float(cos(theta)), s = Float(sin(theta))
        let cy = Float(h - 1) / 2, cx = Float(w - 1) / 2
        func pixel(_ y: Int, _ x: Int) -> Float { (y >= 0 && y < h && x >= 0 && x < w) ? src[y * w + x] : 0 }
        for y in 0..<h {
            for x in 0..<w {
                let dx = Float(x) - cx, dy = Float(y) - cy
                let sx = c * dx + s * dy + cx, sy = -s * dx + c * dy + cy
                let x0 = Int(sx.rounded(.down)), y0 = Int(sy.rounded(.down))
                let fx = sx - Float(x0), fy = sy - Float(y0)
                let top = pixel(y0, x0) * (1 - fx) + pixel(y0, x0 + 1) * fx
                let bottom = pixel(y0 + 1, x0) * (1 - fx) + pixel(y0 + 1, x0 + 1) * fx
                dst[y * w + x] = top * (1 - fy) + bottom * fy
            }
        }
    }
}
