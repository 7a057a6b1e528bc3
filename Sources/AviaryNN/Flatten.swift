/// Turns the CNN's internal CNHW activations into the (B, C·H·W) rows a Dense layer reads,
/// in PyTorch's flatten order (c, y, x), so fc weights line up with a PyTorch model's.
enum Flatten {
    /// out (B, C·P) ← inp (C, B, P)
    static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int) {
        for c in 0..<channels {
            for b in 0..<batch {
                (out + (b * channels + c) * plane).update(from: inp + (c * batch + b) * plane, count: plane)
            }
        }
    }

    /// dInp (C, B, P) ← dOut (B, C·P)
    static func backward(dInp: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int) {
        for c in 0..<channels {
            for b in 0..<batch {
                (dInp + (c * batch + b) * plane).update(from: dOut + (b * channels + c) * plane, count: plane)
            }
        }
    }
}
