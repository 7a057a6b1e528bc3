/// A CIFAR-style ResNet (He et al. 2016, §4.2) with GroupNorm in place of BatchNorm: a 3×3
/// stem, three stages of `blocksPerStage` basic blocks at widths w, 2w, 4w (the first block of
/// stages 2 and 3 halves the resolution with stride 2 and a 1×1 projection shortcut), global
/// average pooling and one Dense layer. Depth is 6·blocksPerStage + 2: ResNet-8 has 1 block per
/// stage, ResNet-20 has 3. Convolutions have no bias (each is followed by a GroupNorm).
public struct ResNetSpec: Codable, Sendable, Hashable {
    public var channels: Int, height: Int, width: Int, classes: Int
    /// Basic blocks per stage (n): depth 6n + 2.
    public var blocksPerStage: Int
    /// Channels of the stem and first stage (16 in He et al.).
    public var baseWidth: Int
    /// GroupNorm groups per normalisation layer; must divide every stage's width.
    public var groups: Int
    /// Dropout rate before the final Dense layer (0 = none).
    public var dropout: Double

    public init(channels: Int, height: Int, width: Int, classes: Int, blocksPerStage: Int,
                baseWidth: Int = 16, groups: Int = 2, dropout: Double = 0) {
        self.channels = channels; self.height = height; self.width = width; self.classes = classes
        self.blocksPerStage = blocksPerStage; self.baseWidth = baseWidth; self.groups = groups; self.dropout = dropout
    }

    /// 6·blocksPerStage + 2 weighted layers.
    public var depth: Int { 6 * blocksPerStage + 2 }

    /// ResNet-`depth` for 3×32×32 images; `depth` must be 6n + 2 (8, 14, 20, 32, …).
    public static func cifar(depth: Int, classes: Int = 10, baseWidth: Int = 16, groups: Int = 2) -> ResNetSpec {
        ResNetSpec(channels: 3, height: 32, width: 32, classes: classes, blocksPerStage: max(0, (depth - 2) / 6),
                   baseWidth: baseWidth, groups: groups)
    }
}

/// Appends a `ResNetSpec`'s layers to an architecture (names follow the common PyTorch CIFAR
/// ResNet: conv1, gn1, layer1.0.conv1, …, layer2.0.shortcut.0 (conv) and .1 (norm), fc).
enum ResNetBuilder {
    static func check(_ r: ResNetSpec) throws {
        for stage in 0..<3 where (r.baseWidth << stage) % r.groups != 0 {
            throw NNError.invalidNormalisation(model: "resnet", channels: r.baseWidth << stage, groups: r.groups)
        }
        guard r.height >= 4, r.width >= 4 else { throw NNError.inputTooSmall(model: "resnet", height: r.height, width: r.width, minimum: 4) }
        guard r.dropout >= 0, r.dropout < 1 else { throw NNError.invalidRate(model: "resnet", field: "dropout", value: r.dropout) }
    }

    static func build(_ r: ResNetSpec, into a: inout Architecture) {
        var h = r.height, w = r.width, channels = r.baseWidth
        a.addSharedColumnConv("conv1", input: 0, r.channels, channels, h, w, kernel: 3, stride: 1)
        a.addGroupNorm("gn1", channels: channels, plane: h * w, groups: r.groups)
        a.addReLU()
        for stage in 0..<3 {
            let outChannels = r.baseWidth << stage
            for block in 0..<r.blocksPerStage {
                let stride = stage > 0 && block == 0 ? 2 : 1
                let name = "layer\(stage + 1).\(block)"
                let input = a.outputSlot
                let ho = Conv2D.outputSize(h, kernel: 3, padding: 1, stride: stride)
                let wo = Conv2D.outputSize(w, kernel: 3, padding: 1, stride: stride)
                a.addSharedColumnConv("\(name).conv1", input: input, channels, outChannels, h, w, kernel: 3, stride: stride)
                a.addGroupNorm("\(name).gn1", channels: outChannels, plane: ho * wo, groups: r.groups)
                a.addReLU()
                a.addSharedColumnConv("\(name).conv2", input: a.outputSlot, outChannels, outChannels, ho, wo, kernel: 3, stride: 1)
                a.addGroupNorm("\(name).gn2", channels: outChannels, plane: ho * wo, groups: r.groups)
                let main = a.outputSlot
                var shortcut = input
                if stride != 1 || channels != outChannels {
                    a.addSharedColumnConv("\(name).shortcut.0", input: input, channels, outChannels, h, w, kernel: 1, stride: stride)
                    a.addGroupNorm("\(name).shortcut.1", channels: outChannels, plane: ho * wo, groups: r.groups)
                    shortcut = a.outputSlot
                }
                a.addStep(.residualAdd(features: outChannels * ho * wo, shortcut: shortcut, rectified: false), features: outChannels * ho * wo, input: main)
                a.addReLU()
                (h, w, channels) = (ho, wo, outChannels)
            }
        }
        a.addStep(.globalAveragePool(channels: channels, plane: h * w), features: channels)
        if r.dropout > 0 { a.addDropout(rate: Float(r.dropout)) }
        a.addDense("fc", channels, r.classes)
    }
}
