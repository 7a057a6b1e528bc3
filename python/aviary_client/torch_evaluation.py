"""Robust evaluation of a torch module, as the engine's `RobustEvaluation`: the first `subset`
samples of a seeded permutation (stream (seed, evaluation, 0)), in chunks of the batch size,
chunk i's attack noise seeded from stream (seed, attack, i). FGSM/PGD: loss and accuracy at the
attack's final points. APGD kinds: accuracy counts the samples no iterate misclassified; the
loss is the cross-entropy at the points the attack returns. The module runs in eval mode."""
import torch

from . import seeded_order
from .torch_apgd import APGD
from .torch_attacks import perturb
from .torch_stats import Stats


def robust_stats(model, data, attack, value_range=None, subset=None, batch_size=256, seed=0):
    x, y = data
    n = int(y.shape[0])
    total = n if subset is None else min(max(subset, 0), n)
    rows = torch.as_tensor(seeded_order.evaluation_order(seed, n)[:total], dtype=torch.int64)
    was_training = model.training
    model.eval()
    apgd = APGD(model, attack, value_range) if attack.is_apgd else None
    stats = Stats()
    for chunk, start in enumerate(range(0, total, batch_size)):
        index = rows[start:start + batch_size]
        xb, yb = x.index_select(0, index), y.index_select(0, index)
        generator = torch.Generator().manual_seed(seeded_order.chunk_attack_seed(seed, chunk))
        if apgd is not None:
            adversarial, robust = apgd.perturb(xb, yb, generator)
        else:
            adversarial, robust = perturb(model, xb, yb, attack, value_range, generator), None
        with torch.no_grad():
            logits = model(adversarial)
        chunk_stats = Stats()
        chunk_stats.add(logits, yb)
        if robust is not None:
            chunk_stats.correct = int(robust.sum())
        stats.loss_sum += chunk_stats.loss_sum
        stats.correct += chunk_stats.correct
        stats.count += chunk_stats.count
    model.train(was_training)
    return stats
