"""The feasible set of an attack in torch, as the engine's `PerturbationBall`: the ε-ball (ℓ∞ or
ℓ2) around each clean sample, intersected with the data's valid box [lo, hi]. Projection onto
the ball first, then clamping to the box, lands in the intersection whenever the clean point
is inside the box. Every operation works per sample on a (batch, …) tensor."""
import math

import torch


class Ball:
    def __init__(self, norm, epsilon, value_range=None):
        if norm not in ("linf", "l2"):
            raise ValueError(f"norm {norm!r} is not linf or l2")
        self.norm = norm
        self.epsilon = float(epsilon)
        self.lower, self.upper = value_range if value_range is not None else (-math.inf, math.inf)

    def _box(self, x):
        return torch.clamp(x, self.lower, self.upper)

    def _per_sample_norm(self, t):
        return t.flatten(1).norm(dim=1).view(-1, *([1] * (t.dim() - 1)))

    def random_start(self, x, generator):
        """Madry et al.'s start: ℓ∞ x + U(−ε, ε) per coordinate; ℓ2 x + r·u with u a uniform
        direction and r = ε·U^(1/d) (uniform in the ball's volume); projected and clamped."""
        if self.norm == "linf":
            noise = torch.rand(x.shape, generator=generator, dtype=x.dtype) * 2 - 1
            return self.project(x + self.epsilon * noise, x)
        direction = torch.randn(x.shape, generator=generator, dtype=torch.float64)
        d = direction[0].numel()
        radius = self.epsilon * torch.rand(x.shape[0], generator=generator, dtype=torch.float64) ** (1.0 / d)
        length = direction.flatten(1).norm(dim=1)
        scale = torch.where(length > 0, radius / length, torch.zeros_like(length))
        noise = (direction * scale.view(-1, *([1] * (x.dim() - 1)))).to(x.dtype)
        return self.project(x + noise, x)

    def gaussian_start(self, x, sigma, generator):
        """TRADES' start x + N(0, σ²), projected and clamped."""
        return self.project(x + sigma * torch.randn(x.shape, generator=generator, dtype=x.dtype), x)

    def step(self, adversarial, gradient, x, step_size):
        """One ascent step of size α: ℓ∞ α·sign(g); ℓ2 α·g/‖g‖ per sample (no move where g = 0);
        then projection and clamping."""
        if self.norm == "linf":
            low = torch.clamp(x - self.epsilon, min=self.lower)
            high = torch.clamp(x + self.epsilon, max=self.upper)
            return torch.minimum(torch.maximum(adversarial + step_size * torch.sign(gradient), low), high)
        length = self._per_sample_norm(gradient)
        scale = torch.where(length > 0, step_size / length, torch.zeros_like(length))
        return self.project(adversarial + scale * gradient, x)

    def project(self, adversarial, x):
        """Onto each sample's ε-ball around x, then into the box."""
        if self.norm == "linf":
            low = torch.clamp(x - self.epsilon, min=self.lower)
            high = torch.clamp(x + self.epsilon, max=self.upper)
            return torch.minimum(torch.maximum(adversarial, low), high)
        delta = adversarial - x
        length = self._per_sample_norm(delta)
        scale = torch.where(length > self.epsilon, self.epsilon / length, torch.ones_like(length))
        return self._box(x + scale * delta)
