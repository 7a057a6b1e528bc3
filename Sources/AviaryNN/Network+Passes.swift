/// What a backward pass does with parameter gradients.
enum ParameterGradientMode {
    /// Input gradients only (attack steps): no dW sgemm at all.
    case skip
    /// Add ∂L/∂θ into the flat gradient buffer.
    case accumulate
    /// Plain SGD folded into the dW sgemm: θ += −lr · ∂L/∂θ, after the layer's input gradient.
    case descend(learningRate: Float)
}

extension Network {
    // MARK: Public passes

    /// Forward pass keeping training caches; returns logits (batch × classes), valid until the
    /// next forward or evaluation. The input is copied, so it need not outlive the call.
    public func forward(inputs: UnsafePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float> {
        precondition(batch >= 1 && batch <= maxBatch, "forward: batch \(batch) is outside 1...\(maxBatch)")
        slots[0].update(from: inputs, count: batch * spec.inputCount)
        return runForward(input: UnsafePointer(slots[0]), batch: batch, training: true)
    }

    /// Backward pass of the last `forward` from ∂L/∂logits (batch × classes). Parameter
    /// gradients are added (+=) into the flat gradient buffer when asked; ∂L/∂x is written
    /// (overwritten) to `inputGradient` (batch × inputCount) when it is non-nil.
    public func backward(logitsGradient: UnsafePointer<Float>, batch: Int, accumulateParameterGradients: Bool,
                         inputGradient: UnsafeMutablePointer<Float>?) {
        precondition(batch == currentBatch && batch > 0,
                     "backward: batch \(batch) does not match a pending `forward` (batch \(currentBatch)); call forward(inputs:batch:) first")
        let dLogits = slotGradients[architecture.outputSlot]
        if UnsafePointer(dLogits) != logitsGradient { dLogits.update(from: logitsGradient, count: batch * spec.classes) }
        runBackward(batch: batch, mode: accumulateParameterGradients ? .accumulate : .skip, inputGradient: inputGradient)
    }

    /// Forward, backward and optimiser step on one batch; returns the batch's loss sum and
    /// correct count (from the logits before the update). Plain SGD is folded into backward.
    public func trainStep(inputs: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch: Int) -> BatchStats {
        precondition(batch >= 1 && batch <= maxBatch, "trainStep: batch \(batch) is outside 1...\(maxBatch)")
        let logits = runForward(input: inputs, batch: batch, training: true)
        let stats = SoftmaxCrossEntropy.forward(logits: logits, labels: labels, batch: batch, classes: spec.classes,
                                                dLogits: slotGradients[architecture.outputSlot])
        if optimizer.isPlain {
            runBackward(batch: batch, mode: .descend(learningRate: optimizer.learningRate), inputGradient: nil)
        } else {
            zeroGradients()
            runBackward(batch: batch, mode: .accumulate, inputGradient: nil)
            applyOptimizerStep()
        }
        currentBatch = 0  // the caller's input pointer may die now: a stray `backward` must trap
        return stats
    }

    /// Mean cross-entropy of the batch (as stats) and ∂(mean loss)/∂x written to
    /// `inputGradient` (batch × inputCount); no parameter gradient is computed.
    public func lossAndInputGradient(inputs: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch: Int,
                                     inputGradient: UnsafeMutablePointer<Float>) -> BatchStats {
        precondition(batch >= 1 && batch <= maxBatch, "lossAndInputGradient: batch \(batch) is outside 1...\(maxBatch)")
        let logits = runForward(input: inputs, batch: batch, training: true)
        let stats = SoftmaxCrossEntropy.forward(logits: logits, labels: labels, batch: batch, classes: spec.classes,
                                                dLogits: slotGradients[architecture.outputSlot])
        runBackward(batch: batch, mode: .skip, inputGradient: inputGradient)
        currentBatch = 0  // the caller's input pointer may die now: a stray `backward` must trap
        return stats
    }

    // MARK: Engine

    /// Runs all layers on `input` (batch × inputCount, which must stay valid until backward).
    func runForward(input: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafeMutablePointer<Float> {
        currentInput = input
        // Inference keeps no argmax, so only a training forward may be followed by `backward`.
        currentBatch = training ? batch : 0
        let steps = architecture.steps
        var position = 0
        while position < steps.count {
            let step = steps[position]
            position += 1
            let inp = step.input == 0 ? input : UnsafePointer(slots[step.input])
            let out = slots[step.output]
            switch step.op {
            case let .dense(inputs, outputs, weight, bias):
                Dense.forward(out: out, inp: inp, weight: parameters + weight, bias: parameters + bias,
                              batch: batch, inputs: inputs, outputs: outputs)
            case let .relu(features):
                ReLU.forward(x: out, count: batch * features)
            case let .conv(g) where Conv2D.directForward(g):
                let layout = planeLayout(g, batch: batch), bias = g.bias.map { UnsafePointer(parameters + $0) }
                if position < steps.count, case .groupNorm = steps[position].op, steps[position].input == step.output {
                    // One sample at a time with its normalisation (and join) right after it: the
                    // sample's output (16–64 KB) is still in L2 when the normalisation's passes
                    // read it; the whole batch's (2–4 MB for ResNet's first stage at batch 32–64)
                    // was not. Every value is computed as before.
                    let norm = steps[position]
                    for b in 0..<batch {
                        Conv2D.directSameForward(out: out, inp: inp, layout: layout, weight: parameters + g.weight, bias: bias,
                                                 batch: batch, geometry: g, scratch: directScratch, samples: b..<(b + 1))
                        groupNormForward(norm, join: norm.writesJoin ? steps[position + 1] : nil, batch: batch, samples: b..<(b + 1))
                    }
                    position += norm.writesJoin ? 2 : 1
                } else {
                    Conv2D.directSameForward(out: out, inp: inp, layout: layout, weight: parameters + g.weight, bias: bias,
                                             batch: batch, geometry: g, scratch: directScratch)
                }
            case let .conv(g):
                Conv2D.chunkedForward(out: out, inp: inp, layout: planeLayout(g, batch: batch), col: columns[g.column],
                                      weight: parameters + g.weight, bias: g.bias.map { UnsafePointer(parameters + $0) },
                                      batch: batch, geometry: g)
            case let .maxPool(channels, height, width, size, index, rectified, _):
                if rectified {
                    MaxPool2D.rectifiedForward(out: out, argmax: training ? argmax[index] : nil, inp: inp,
                                               planes: channels * batch, height: height, width: width, size: size)
                } else {
                    MaxPool2D.forward(out: out, argmax: training ? argmax[index] : nil, inp: inp,
                                      planes: channels * batch, height: height, width: width, size: size)
                }
            case let .flatten(channels, plane):
                Flatten.forward(out: out, inp: inp, batch: batch, channels: channels, plane: plane)
            case .groupNorm:
                groupNormForward(step, join: step.writesJoin ? steps[position] : nil, batch: batch, samples: 0..<batch)
                if step.writesJoin { position += 1 }
            case let .globalAveragePool(channels, plane):
                GlobalAveragePool.forward(out: out, inp: inp, batch: batch, channels: channels, plane: plane)
            case let .dropout(features, rate, index):
                // Inference is the identity (inverted dropout scales at training time).
                if training { Dropout.forwardTraining(x: out, mask: masks[index], count: batch * features, rate: rate, stream: &dropoutStream) }
            case let .residualAdd(features, shortcut, rectified):
                ResidualAdd.forward(out: out, main: inp, shortcut: slots[shortcut], count: batch * features, rectified: rectified)
            case let .embedding(steps, dim, vocabulary, table):
                Embedding.forward(out: out, inp: inp, table: parameters + table, batch: batch, steps: steps, dim: dim, vocabulary: vocabulary)
            case let .lstm(g):
                LSTM.forward(h: out, gates: lstmGates[g.cache], cells: lstmCells[g.cache], x: inp,
                             p: lstmParameters(g, base: parameters), shape: lstmShape(g, batch: batch))
            case let .lastStep(steps, features):
                out.update(from: inp + (steps - 1) * batch * features, count: batch * features)
            }
        }
        return slots[architecture.outputSlot]
    }

    /// Backpropagates the gradient already in the output slot's gradient buffer.
    func runBackward(batch: Int, mode: ParameterGradientMode, inputGradient: UnsafeMutablePointer<Float>?) {
        for step in architecture.steps.reversed() {
            let dOut = slotGradients[step.output]
            let dInp = step.input == 0 ? inputGradient : slotGradients[step.input]
            let inp = step.input == 0 ? currentInput : UnsafePointer(slots[step.input])
            switch step.op {
            case let .dense(inputs, outputs, weight, bias):
                Dense.backward(dInp: dInp, sink: sink(weight: weight, bias: bias, mode: mode), dOut: dOut, inp: inp,
                               weight: parameters + weight, batch: batch, inputs: inputs, outputs: outputs)
            case let .relu(features):
                ReLU.backward(dx: dOut, out: slots[step.output], count: batch * features)
            case let .conv(g):
                // Input gradient first: a folded-SGD sink updates the kernels in place.
                let layout = planeLayout(g, batch: batch)
                if let dInp, g.transposedInputGradient || Conv2D.directInputGradient(g) {
                    Conv2D.flipTransposed(weight: parameters + g.weight, into: flippedWeights, inChannels: g.inChannels,
                                          outChannels: g.outChannels, kernel: g.kernel)
                    if Conv2D.directInputGradient(g) {
                        Conv2D.directTransposedInputGradient(dInp: dInp, accumulate: step.accumulatesInput, dOut: dOut,
                                                             flipped: flippedWeights, batch: batch, geometry: g,
                                                             scratch: directScratch)
                    } else {
                        Conv2D.chunkedTransposedInputGradient(dInp: dInp, accumulate: step.accumulatesInput, dOut: dOut,
                                                              flipped: flippedWeights, col: columns[g.column], batch: batch, geometry: g)
                    }
                } else if let dInp, let columnGradient {
                    Conv2D.chunkedColumnInputGradient(dInp: dInp, accumulate: step.accumulatesInput, layout: layout, dOut: dOut,
                                                      weight: parameters + g.weight, dCol: columnGradient, batch: batch, geometry: g)
                }
                if let parameterSink = sink(weight: g.weight, bias: g.biasInPool ? nil : g.bias, mode: mode), Conv2D.directWeightGradient(g) {
                    Conv2D.directWeightGradient(sink: parameterSink, dOut: dOut, inp: inp, layout: layout, batch: batch, geometry: g,
                                                scratch: directScratch)
                } else if let parameterSink = sink(weight: g.weight, bias: g.biasInPool ? nil : g.bias, mode: mode) {
                    Conv2D.chunkedWeightGradient(sink: parameterSink, dOut: dOut, inp: inp, layout: layout,
                                                 col: columns[g.column], batch: batch, geometry: g)
                }
            case let .maxPool(channels, height, width, size, index, rectified, bias):
                guard let dInp else { continue }
                if rectified {
                    // The fused convolution bias's gradient (sink.bias) is summed here, before the
                    // convolution's backward, which then leaves the bias alone.
                    let biasSink = bias.flatMap { sink(weight: $0, bias: nil, mode: mode) }
                    MaxPool2D.rectifiedBackward(dInp: dInp, dOut: dOut, out: slots[step.output], argmax: argmax[index],
                                                biasGradient: biasSink?.weight, scale: biasSink?.scale ?? 1, batch: batch,
                                                planes: channels * batch, height: height, width: width, size: size)
                } else {
                    MaxPool2D.backward(dInp: dInp, dOut: dOut, argmax: argmax[index],
                                       planes: channels * batch, height: height, width: width, size: size)
                }
            case let .flatten(channels, plane):
                guard let dInp else { continue }
                Flatten.backward(dInp: dInp, dOut: dOut, batch: batch, channels: channels, plane: plane)
            case let .groupNorm(channels, plane, groups, weight, bias, index, rectified):
                GroupNorm.backward(dInp: dInp, sink: sink(weight: weight, bias: bias, mode: mode), dOut: dOut, inp: inp,
                                   statistics: statistics[index], gamma: parameters + weight,
                                   batch: batch, channels: channels, plane: plane, groups: groups,
                                   rectifiedOutput: rectified ? UnsafePointer(slots[step.output]) : nil)
            case let .globalAveragePool(channels, plane):
                guard let dInp else { continue }
                GlobalAveragePool.backward(dInp: dInp, dOut: dOut, batch: batch, channels: channels, plane: plane)
            case let .dropout(features, _, index):
                Dropout.backward(dx: dOut, mask: masks[index], count: batch * features)
            case let .residualAdd(features, shortcut, rectified):
                let out = rectified ? UnsafePointer(slots[step.output]) : nil
                if let dInp {
                    ResidualAdd.backward(dBranch: dInp, dOut: dOut, count: batch * features, accumulate: step.accumulatesInput,
                                         rectifiedOutput: out)
                }
                ResidualAdd.backward(dBranch: slotGradients[shortcut], dOut: dOut, count: batch * features,
                                     accumulate: step.accumulatesShortcut, rectifiedOutput: out)
            case let .embedding(steps, dim, vocabulary, table):
                // Token indices have no gradient: an attack on them sees zeros.
                dInp?.update(repeating: 0, count: batch * steps)
                if let s = sink(weight: table, bias: nil, mode: mode) {
                    Embedding.backward(tableSink: s.weight, scale: s.scale, dOut: dOut, inp: inp,
                                       batch: batch, steps: steps, dim: dim, vocabulary: vocabulary)
                }
            case let .lstm(g):
                let s = sink(weight: g.weightIH, bias: nil, mode: mode)
                LSTM.backward(dX: dInp, sink: s.map { lstmParameters(g, base: $0.weight - g.weightIH) }, scale: s?.scale ?? 0,
                              dH: dOut, dGates: lstmGateGradient!, dCell: lstmCellGradient!, x: inp, h: slots[step.output],
                              gates: lstmGates[g.cache], cells: lstmCells[g.cache],
                              p: lstmParameters(g, base: parameters), shape: lstmShape(g, batch: batch))
            case let .lastStep(steps, features):
                guard let dInp else { continue }
                dInp.update(repeating: 0, count: (steps - 1) * batch * features)
                (dInp + (steps - 1) * batch * features).update(from: dOut, count: batch * features)
            }
        }
    }

    /// A GroupNorm step's forward on `samples`; with `join` (the residual join after a `writesJoin`
    /// step) the join is fused in and its output slot written instead of the norm's.
    private func groupNormForward(_ step: LayerStep, join: LayerStep?, batch: Int, samples: Range<Int>) {
        guard case let .groupNorm(channels, plane, groups, weight, bias, index, rectified) = step.op else { return }
        let inp = step.input == 0 ? currentInput : UnsafePointer(slots[step.input])
        if let join, case let .residualAdd(_, shortcut, joinRectified) = join.op {
            GroupNorm.forward(out: slots[join.output], statistics: statistics[index], inp: inp, gamma: parameters + weight,
                              beta: parameters + bias, batch: batch, channels: channels, plane: plane, groups: groups,
                              rectified: joinRectified, shortcut: UnsafePointer(slots[shortcut]), samples: samples)
        } else {
            GroupNorm.forward(out: slots[step.output], statistics: statistics[index], inp: inp, gamma: parameters + weight,
                              beta: parameters + bias, batch: batch, channels: channels, plane: plane, groups: groups,
                              rectified: rectified, samples: samples)
        }
    }

    private func lstmParameters(_ g: LSTMGeometry, base: UnsafeMutablePointer<Float>) -> LSTM.Parameters {
        LSTM.Parameters(weightIH: base + g.weightIH, weightHH: base + g.weightHH, biasIH: base + g.biasIH, biasHH: base + g.biasHH)
    }

    private func lstmShape(_ g: LSTMGeometry, batch: Int) -> LSTM.Shape {
        LSTM.Shape(steps: g.steps, batch: batch, inputs: g.inputs, hidden: g.hidden)
    }

    private func planeLayout(_ g: ConvGeometry, batch: Int) -> PlaneLayout {
        let plane = g.height * g.width
        return g.batchMajorInput ? .nchw(channels: g.inChannels, plane: plane) : .cnhw(batch: batch, plane: plane)
    }

    private func sink(weight: Int, bias: Int?, mode: ParameterGradientMode) -> ParameterSink? {
        switch mode {
        case .skip: return nil
        case .accumulate: return ParameterSink(weight: gradients + weight, bias: bias.map { gradients + $0 }, scale: 1)
        case let .descend(lr): return ParameterSink(weight: parameters + weight, bias: bias.map { parameters + $0 }, scale: -lr)
        }
    }
}
