"""The training half of the WELCOME run spec (JSON of Swift's `RunSpec`): local epochs, batch
size, the optimiser, and each client's adversarial training after `clientOverrides`, with the
engine's defaults and its effective values (FGSM: one step of size ε, no random start). Pure
Python, so the settings are testable without torch."""
from dataclasses import dataclass, field
from typing import Optional

ATTACK_KINDS = ("fgsm", "pgd", "apgd-ce", "apgd-dlr", "apgd-t", "autoattack-lite")
MODES = ("none", "pgd", "mix", "trades")
NORMS = ("linf", "l2")


class SettingsError(ValueError):
    """A run spec key this adapter cannot use, naming the key and the value."""


@dataclass(frozen=True)
class Attack:
    """Swift's `AttackSpec`: the ball (norm, ε), step size α, steps, random start."""
    kind: str = "pgd"
    norm: str = "linf"
    epsilon: float = 0.1
    step_size: float = 0.01
    steps: int = 10
    random_start: bool = True
    restarts: int = 1
    targets: int = 9

    @property
    def effective_steps(self):
        return 1 if self.kind == "fgsm" else self.steps

    @property
    def effective_step_size(self):
        return self.epsilon if self.kind == "fgsm" else self.step_size

    @property
    def effective_random_start(self):
        return self.kind == "pgd" and self.random_start

    @property
    def is_apgd(self):
        return self.kind not in ("fgsm", "pgd")


@dataclass(frozen=True)
class Adversarial:
    """Swift's `AdversarialTrainingSpec`: the mode, its attack, λ of `mix`, β of `trades`."""
    mode: str = "none"
    attack: Attack = field(default_factory=Attack)
    mix_lambda: float = 0.5
    trades_beta: float = 6.0


@dataclass(frozen=True)
class Optimizer:
    """Swift's `SGDConfig`, with torch.optim.SGD's semantics plus FedProx's μ(w − w_global)."""
    learning_rate: float = 0.01
    momentum: float = 0.0
    weight_decay: float = 0.0
    proximal_mu: float = 0.0


@dataclass(frozen=True)
class Training:
    local_epochs: int = 1
    batch_size: int = 32
    optimizer: Optimizer = field(default_factory=Optimizer)
    max_local_steps: Optional[int] = None


def _get(obj, key, kind, default, where):
    value = obj.get(key, default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SettingsError(f"run spec {where}.{key}: {value!r} is not a {kind.__name__}")
    return value


def attack_from_json(obj, where="adversarial.attack"):
    if not isinstance(obj, dict):
        raise SettingsError(f"run spec {where}: {obj!r} is not an object")
    kind = _get(obj, "kind", str, "pgd", where)
    norm = _get(obj, "norm", str, "linf", where)
    if kind not in ATTACK_KINDS:
        raise SettingsError(f"run spec {where}.kind: {kind!r} is not one of {', '.join(ATTACK_KINDS)}")
    if norm not in NORMS:
        raise SettingsError(f"run spec {where}.norm: {norm!r} is not linf or l2")
    attack = Attack(kind=kind, norm=norm, epsilon=_get(obj, "epsilon", float, 0.1, where),
                    step_size=_get(obj, "stepSize", float, 0.01, where), steps=_get(obj, "steps", int, 10, where),
                    random_start=_get(obj, "randomStart", bool, True, where),
                    restarts=_get(obj, "restarts", int, 1, where), targets=_get(obj, "targets", int, 9, where))
    if attack.epsilon < 0 or attack.step_size < 0 or attack.steps < 0 or attack.restarts < 1:
        raise SettingsError(f"run spec {where}: ε, step size and steps must not be negative, restarts at least 1")
    return attack


def adversarial_from_json(obj, where="adversarial"):
    if obj is None:
        return Adversarial()
    if not isinstance(obj, dict):
        raise SettingsError(f"run spec {where}: {obj!r} is not an object")
    mode = _get(obj, "mode", str, "none", where)
    if mode not in MODES:
        raise SettingsError(f"run spec {where}.mode: {mode!r} is not one of {', '.join(MODES)}")
    attack = attack_from_json(obj.get("attack", {}), where + ".attack")
    if mode != "none" and attack.is_apgd:
        raise SettingsError(f"run spec {where}.attack.kind: {attack.kind} scores robust accuracy only; training uses fgsm or pgd")
    return Adversarial(mode=mode, attack=attack, mix_lambda=_get(obj, "mixLambda", float, 0.5, where),
                       trades_beta=_get(obj, "tradesBeta", float, 6.0, where))


def adversarial_for_client(raw, client):
    """The client's adversarial settings: the last `clientOverrides` entry naming it wins."""
    chosen, where = raw.get("adversarial"), "adversarial"
    for i, override in enumerate(raw.get("clientOverrides") or []):
        if client in (override.get("clients") or []):
            chosen, where = override.get("adversarial"), f"clientOverrides[{i}].adversarial"
    return adversarial_from_json(chosen, where)


def training_from_json(raw):
    obj = raw.get("training") or {}
    opt = obj.get("optimizer") or {}
    optimizer = Optimizer(learning_rate=_get(opt, "learningRate", float, 0.01, "training.optimizer"),
                          momentum=_get(opt, "momentum", float, 0.0, "training.optimizer"),
                          weight_decay=_get(opt, "weightDecay", float, 0.0, "training.optimizer"),
                          proximal_mu=_get(opt, "proximalMu", float, 0.0, "training.optimizer"))
    max_steps = obj.get("maxLocalSteps")
    if max_steps is not None and (not isinstance(max_steps, int) or max_steps < 0):
        raise SettingsError(f"run spec training.maxLocalSteps: {max_steps!r} is not a non-negative integer")
    training = Training(local_epochs=_get(obj, "localEpochs", int, 1, "training"),
                        batch_size=_get(obj, "batchSize", int, 32, "training"), optimizer=optimizer,
                        max_local_steps=max_steps)
    if training.batch_size < 1 or training.local_epochs < 0:
        raise SettingsError(f"run spec training: batchSize {training.batch_size} must be at least 1, localEpochs not negative")
    return training
