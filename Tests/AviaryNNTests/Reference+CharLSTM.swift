import Foundation
@testable import AviaryNN

/// Double reference of the char-level model, one sample at a time and one step at a time, from
/// PyTorch's LSTM equations (gates i, f, g, o; zero initial state).
extension Reference {
    static func charLSTM(_ c: CharLSTMSpec, _ t: (String) -> [Double], input: [Double], batch: Int) -> [Double] {
        func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
        let table = t("embedding.weight"), H = c.hidden
        var lastHidden: [Double] = []
        for b in 0..<batch {
            var sequence = (0..<c.context).map { s -> [Double] in
                let token = min(c.vocabulary - 1, max(0, Int(input[b * c.context + s].rounded())))
                return Array(table[(token * c.embedding)..<((token + 1) * c.embedding)])
            }
            for l in 0..<c.layers {
                let wih = t("lstm.weight_ih_l\(l)"), whh = t("lstm.weight_hh_l\(l)")
                let bih = t("lstm.bias_ih_l\(l)"), bhh = t("lstm.bias_hh_l\(l)")
                let inputs = sequence[0].count
                var h = [Double](repeating: 0, count: H), cell = [Double](repeating: 0, count: H)
                var outputs: [[Double]] = []
                for x in sequence {
                    var z = [Double](repeating: 0, count: 4 * H)
                    for r in 0..<(4 * H) {
                        var s = bih[r] + bhh[r]
                        for k in 0..<inputs { s += wih[r * inputs + k] * x[k] }
                        for k in 0..<H { s += whh[r * H + k] * h[k] }
                        z[r] = s
                    }
                    for j in 0..<H {
                        let i = sigmoid(z[j]), f = sigmoid(z[H + j]), g = tanh(z[2 * H + j]), o = sigmoid(z[3 * H + j])
                        cell[j] = f * cell[j] + i * g
                        h[j] = o * tanh(cell[j])
                    }
                    outputs.append(h)
                }
                sequence = outputs
            }
            lastHidden += sequence.last!
        }
        return dense(lastHidden, t("fc.weight"), t("fc.bias"), batch: batch, inputs: H, outputs: c.classes)
    }
}
