/// Local optimiser settings: SGD with optional momentum, L2 weight decay and a FedProx
/// proximal term μ/2‖w − w_anchor‖², with PyTorch's `torch.optim.SGD` semantics
/// (d = g + wd·w + μ(w − anchor); v = momentum·v + d; w −= lr·v; no dampening, no Nesterov).
public struct SGDConfig: Sendable, Hashable, Codable {
    public var learningRate: Float
    public var momentum: Float
    public var weightDecay: Float
    public var proximalMu: Float

    public init(learningRate: Float, momentum: Float = 0, weightDecay: Float = 0, proximalMu: Float = 0) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.proximalMu = proximalMu
    }

    /// True when the step is w −= lr·g alone, which lets the engine fold it into the dW sgemm.
    public var isPlain: Bool { momentum == 0 && weightDecay == 0 && proximalMu == 0 }
}
