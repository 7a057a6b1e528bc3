"""Auto-PGD (Croce & Hein, ICML 2020) for torch modules, following the engine's `APGDAttacker`
(Sources/AviaryAdversarial/APGD*.swift): APGD-CE, APGD-DLR, APGD-T and the CE + DLR ensemble.

Every sample keeps its own step size η (from 2ε), best point, best loss and checkpoint counters.
At checkpoints (first after 0.22·N steps, each next interval 0.03·N shorter, at least 0.06·N)
η halves and the search restarts from the best point when the loss rose in fewer than 0.75 of
the interval's steps, or when neither η nor the best loss changed since the last checkpoint.
A sample is robust only if its clean point and every iterate of every run are classified
correctly; a fooled sample leaves the batch at once. Each restart (and target) runs only on the
samples still robust. The module should be in eval mode."""
import torch
import torch.nn.functional as F

from .torch_ball import Ball

RHO = 0.75
MOMENTUM = 0.75
INITIAL_STEP_FACTOR = 2.0
DENOMINATOR_FLOOR = 1e-12


def interval_parameters(steps):
    return max(22 * steps // 100, 1), max(3 * steps // 100, 1), max(6 * steps // 100, 1)


def next_interval(current, steps):
    _, decrement, minimum = interval_parameters(steps)
    return max(current - decrement, minimum)


def checkpoints(steps):
    result, interval = [], interval_parameters(steps)[0]
    w = interval
    while w <= steps:
        result.append(w)
        interval = next_interval(interval, steps)
        w += interval
    return result


def losses_of(kind):
    return {"apgd-ce": ["ce"], "apgd-dlr": ["dlr"], "apgd-t": ["dlr-targeted"], "autoattack-lite": ["ce", "dlr"]}[kind]


def per_sample_loss(name, logits, labels, targets):
    """CE, DLR or targeted DLR per sample (the objective APGD ascends)."""
    if name == "ce":
        return F.cross_entropy(logits, labels, reduction="none")
    top = logits.sort(dim=1, descending=True, stable=True)
    z_sorted, order = top.values, top.indices
    z_y = logits.gather(1, labels[:, None])[:, 0]
    if name == "dlr":
        other = torch.where(order[:, 0] == labels, z_sorted[:, 1], z_sorted[:, 0])
        return -(z_y - other) / (z_sorted[:, 0] - z_sorted[:, 2] + DENOMINATOR_FLOOR)
    z_t = logits.gather(1, targets[:, None])[:, 0]
    return -(z_y - z_t) / (z_sorted[:, 0] - (z_sorted[:, 2] + z_sorted[:, 3]) / 2 + DENOMINATOR_FLOOR)


class APGD:
    def __init__(self, model, attack, value_range=None):
        if not attack.is_apgd:
            raise ValueError(f"{attack.kind} is not an APGD attack")
        self.model = model
        self.attack = attack
        self.ball = Ball(attack.norm, attack.epsilon, value_range)

    def runs(self, classes):
        result = []
        for loss in losses_of(self.attack.kind):
            ranks = list(range(2, min(self.attack.targets, classes - 1) + 2)) if loss == "dlr-targeted" else [0]
            for rank in ranks:
                result += [(loss, rank)] * self.attack.restarts
        return result

    def perturb(self, x, y, generator=None):
        """(adversarial points, robust mask): the first misclassified iterate of fooled samples,
        the clean point of misclassified ones, the best point of the last run for robust ones."""
        adversarial = x.clone()
        with torch.no_grad():
            clean_logits = self.model(x)
        robust = clean_logits.argmax(dim=1) == y
        ranked = clean_logits.sort(dim=1, descending=True, stable=True).indices
        for loss, rank in self.runs(clean_logits.shape[1]):
            origin = robust.nonzero()[:, 0]
            if origin.numel() == 0:
                break
            targets = ranked[origin, rank - 1] if rank > 0 else torch.zeros_like(origin)
            self._single_run(loss, x[origin], y[origin], targets, origin, adversarial, robust, generator)
        return adversarial, robust

    def _evaluate(self, loss, current, labels, targets):
        point = current.detach().requires_grad_(True)
        logits = self.model(point)
        values = per_sample_loss(loss, logits, labels, targets)
        (gradient,) = torch.autograd.grad(values.sum(), point)
        return values.detach(), gradient, logits.detach().argmax(dim=1) != labels

    def _start(self, clean, generator):
        if self.ball.norm == "linf":
            t = torch.rand(clean.shape, generator=generator, dtype=clean.dtype) * 2 - 1
            size = t.flatten(1).abs().max(dim=1).values
        else:
            t = torch.randn(clean.shape, generator=generator, dtype=clean.dtype)
            size = t.flatten(1).norm(dim=1)
        scale = (self.ball.epsilon / (size + DENOMINATOR_FLOOR)).view(-1, *([1] * (clean.dim() - 1)))
        return torch.clamp(clean + scale * t, self.ball.lower, self.ball.upper)

    def _step(self, current, previous, gradient, clean, eta, alpha):
        shape = (-1, *([1] * (clean.dim() - 1)))
        if self.ball.norm == "linf":
            z = current + eta.view(shape) * torch.sign(gradient)
        else:
            length = gradient.flatten(1).norm(dim=1).view(shape)
            z = current + eta.view(shape) / (length + DENOMINATOR_FLOOR) * gradient
        z = self.ball.project(z, clean)
        following = current + alpha * (z - current) + (1 - alpha) * (current - previous)
        return self.ball.project(following, clean), current

    def _single_run(self, loss, clean, labels, targets, origin, adversarial, robust, generator):
        steps = self.attack.steps
        current = self._start(clean, generator)
        losses, gradient, fooled = self._evaluate(loss, current, labels, targets)
        n = clean.shape[0]
        eta = torch.full((n,), INITIAL_STEP_FACTOR * self.ball.epsilon, dtype=clean.dtype)
        state = {"clean": clean, "labels": labels, "targets": targets, "origin": origin, "current": current,
                 "previous": current.clone(), "gradient": gradient, "best": current.clone(), "best_gradient": gradient.clone(),
                 "losses": losses, "last": losses.clone(), "best_loss": losses.clone(), "best_at_check": losses.clone(),
                 "eta": eta, "eta_at_check": eta.clone(), "increases": torch.zeros(n, dtype=torch.int64), "fooled": fooled}
        state = self._remove_fooled(state, adversarial, robust)
        interval, since = interval_parameters(steps)[0], 0
        for k in range(steps):
            if state["origin"].numel() == 0:
                break
            s = state
            s["current"], s["previous"] = self._step(s["current"], s["previous"], s["gradient"], s["clean"], s["eta"],
                                                     1.0 if k == 0 else MOMENTUM)
            s["losses"], s["gradient"], s["fooled"] = self._evaluate(loss, s["current"], s["labels"], s["targets"])
            s["increases"] += (s["losses"] > s["last"]).long()
            s["last"] = s["losses"].clone()
            improved = s["losses"] > s["best_loss"]
            s["best_loss"] = torch.where(improved, s["losses"], s["best_loss"])
            s["best"][improved] = s["current"][improved]
            s["best_gradient"][improved] = s["gradient"][improved]
            since += 1
            if since == interval:
                halve = (s["increases"].double() < RHO * interval) | ((s["eta"] == s["eta_at_check"]) & (s["best_loss"] == s["best_at_check"]))
                s["eta_at_check"], s["best_at_check"] = s["eta"].clone(), s["best_loss"].clone()
                s["increases"].zero_()
                restart = halve & ~s["fooled"]
                s["eta"] = torch.where(restart, s["eta"] / 2, s["eta"])
                s["current"][restart] = s["best"][restart]
                s["gradient"][restart] = s["best_gradient"][restart]
                interval, since = next_interval(interval, steps), 0
            state = self._remove_fooled(s, adversarial, robust)
        adversarial[state["origin"]] = state["best"]

    @staticmethod
    def _remove_fooled(state, adversarial, robust):
        fooled = state["fooled"]
        if not bool(fooled.any()):
            return state
        gone = state["origin"][fooled]
        robust[gone] = False
        adversarial[gone] = state["current"][fooled]
        keep = ~fooled
        return {k: v[keep] for k, v in state.items()}
