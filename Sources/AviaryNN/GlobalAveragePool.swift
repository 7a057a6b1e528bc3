/// Global average pooling: the mean of each channel's H×W plane, turning the conv stack's CNHW
/// activations into the (B, C) rows a Dense layer reads (ResNet's head, instead of Flatten).
enum GlobalAveragePool {
    /// out (B, C) ← mean over p of inp (C, B, P)
    static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int) {
        let inverse = 1 / Float(plane)
        for c in 0..<channels {
            for b in 0..<batch { out[b * channels + c] = fastSum(inp + (c * batch + b) * plane, plane) * inverse }
        }
    }

    /// dInp (C, B, P) ← dOut (B, C) / P, spread over each plane (overwritten).
    static func backward(dInp: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int) {
        let inverse = 1 / Float(plane)
        for c in 0..<channels {
            for b in 0..<batch { (dInp + (c * batch + b) * plane).update(repeating: dOut[b * channels + c] * inverse, count: plane) }
        }
    }
}
