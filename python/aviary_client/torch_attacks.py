"""FGSM, PGD and TRADES' inner maximisation against a torch module, with the engine's semantics
(Sources/AviaryAdversarial: `Attacker`, `TradesAttacker`): the attack runs on the module as it
is (training mode during local training, as the engine's forward passes), ascends the mean
cross-entropy (TRADES: the batch's KL(f(x) ‖ f(x_adv)) against fixed clean logits), and every
iterate stays in the ball ∩ box. No parameter gradient is kept."""
import torch
import torch.nn.functional as F

from .torch_ball import Ball

TRADES_START_SIGMA = 0.001


def ball_of(attack, value_range):
    return Ball(attack.norm, attack.epsilon, value_range)


def input_gradient(model, inputs, objective):
    """∂objective(model(inputs))/∂inputs, leaving the parameters' .grad untouched."""
    x = inputs.detach().requires_grad_(True)
    loss = objective(model(x))
    (gradient,) = torch.autograd.grad(loss, x)
    return gradient


def perturb(model, x, y, attack, value_range=None, generator=None):
    """FGSM or PGD on the mean cross-entropy: random start (PGD with random_start only) or x,
    then `effective_steps` steps of `effective_step_size`."""
    ball = ball_of(attack, value_range)
    adversarial = ball.random_start(x, generator) if attack.effective_random_start else x.clone()
    objective = lambda logits: F.cross_entropy(logits, y)  # noqa: E731
    for _ in range(attack.effective_steps):
        gradient = input_gradient(model, adversarial, objective)
        adversarial = ball.step(adversarial, gradient, x, attack.effective_step_size)
    return adversarial.detach()


def softmax_kl(clean_logits, adversarial_logits):
    """Per-sample KL(softmax z ‖ softmax z′), computed from log-softmaxes."""
    log_p = F.log_softmax(clean_logits, dim=1)
    log_q = F.log_softmax(adversarial_logits, dim=1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=1)


def trades_perturb(model, x, clean_logits, attack, value_range=None, generator=None):
    """TRADES' search (Zhang et al. 2019): from x + 0.001·N(0, 1), projected, ascend the mean
    KL(f(x) ‖ f(x_adv)) with f(x) held fixed."""
    ball = ball_of(attack, value_range)
    adversarial = ball.gaussian_start(x, TRADES_START_SIGMA, generator)
    fixed = clean_logits.detach()
    objective = lambda logits: softmax_kl(fixed, logits).mean()  # noqa: E731
    for _ in range(attack.effective_steps):
        gradient = input_gradient(model, adversarial, objective)
        adversarial = ball.step(adversarial, gradient, x, attack.effective_step_size)
    return adversarial.detach()
