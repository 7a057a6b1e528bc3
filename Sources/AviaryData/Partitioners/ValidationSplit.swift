import AviaryMath

/// The server's held-out data split into the reported test set and a seeded validation share
/// (stream `(training seed, evaluation, 1)`). Model selection (checkpoint merging by val_loss)
/// uses only the validation part, so it never looks at the samples the reported accuracy comes
/// from. One implementation for the server's evaluator and `aviary eval`, so they agree exactly.
public enum ValidationSplit {
    public static func split(_ heldOut: Dataset, fraction: Double, seed: UInt64) -> (test: Dataset, validation: Dataset?) {
        let k = Int((Double(heldOut.count) * fraction).rounded())
        guard k > 0 && k < heldOut.count else { return (heldOut, nil) }
        var rng = RandomStream(seed: seed, purpose: .evaluation, index: 1)
        let order = rng.permutation(heldOut.count)
        return (heldOut.subset(Array(order[k...]).sorted()), heldOut.subset(Array(order[..<k]).sorted()))
    }
}
