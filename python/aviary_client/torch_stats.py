"""Loss and accuracy sums over batches (the engine's `BatchStats`), and clean evaluation."""
import torch
import torch.nn.functional as F


class Stats:
    """Sums over samples, as the engine's `BatchStats`: loss (float64) and correct count."""

    def __init__(self):
        self.loss_sum = 0.0
        self.correct = 0
        self.count = 0

    def add(self, logits, labels, losses=None):
        """Adds a batch; `losses` are its per-sample cross-entropies when already computed."""
        with torch.no_grad():
            if losses is None:
                losses = F.cross_entropy(logits.detach(), labels, reduction="none")
            self.loss_sum += float(losses.detach().double().sum())
            self.correct += int((logits.detach().argmax(dim=1) == labels).sum())
            self.count += int(labels.shape[0])

    @property
    def mean_loss(self):
        return self.loss_sum / self.count if self.count else 0.0

    @property
    def accuracy(self):
        return self.correct / self.count if self.count else 0.0


def evaluate_stats(model, data, batch_size):
    """Clean loss and accuracy on the inference path (eval mode, no gradients), in chunks."""
    stats = Stats()
    if data is None:
        return stats
    x, y = data
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, int(y.shape[0]), batch_size):
            stats.add(model(x[start:start + batch_size]), y[start:start + batch_size])
    model.train(was_training)
    return stats
