"""Adapts a `torch.nn.Module` and a per-client data function to the fit/evaluate API, with the
Swift engine's local training (Sources/AviaryAdversarial/LocalTrainer.swift,
Sources/AviaryClient/LocalTraining.swift):

    from aviary_client.torch import ClientData, TorchApp

    def make_model(): return torch.nn.Sequential(...)
    def load_data(client_index, context): return ClientData(train=(x, y), val=(x_val, y_val))
    app = TorchApp(make_model, load_data, value_range=(0.0, 1.0))
    # python -m aviary_client --app mymodule:app --connect … --shard 0/2 --of 10

Per round a client loads the global tensors, trains `local_epochs` passes (the run spec's
`[train]`; MODEL's config may override `learning_rate` and `local_epochs`) in the engine's
shuffled order, with the run spec's `[adversarial]` mode for this client (none, pgd, mix,
trades), and reports the engine's metrics: train_loss/train_accuracy (clean, under the
parameters before each step), adv_loss/adv_accuracy, trades_kl, local_steps, samples,
dataset_size, global_val_* (the received model on the held-out split) and val_* (after training).
Float tensors of the state dict are federated; integer buffers (BatchNorm's
num_batches_tracked) stay with each client, which keeps its own between rounds."""
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from . import seeded_order
from .torch_attacks import perturb, softmax_kl, trades_perturb
from .torch_evaluation import robust_stats
from .torch_stats import Stats, evaluate_stats
from .training_settings import Attack, adversarial_for_client, training_from_json


@dataclass
class ClientData:
    """A client's samples: (inputs, labels) tensors, inputs float (n, …), labels int64 (n,).
    `val` is the held-out split evaluate() and the val_* metrics use (the evaluator: the test set)."""
    train: Optional[Tuple[torch.Tensor, torch.Tensor]] = None
    val: Optional[Tuple[torch.Tensor, torch.Tensor]] = None


def federated_names(model):
    """The state dict's float entries, in order: the tensors the federation merges."""
    return [k for k, v in model.state_dict().items() if torch.is_floating_point(v)]


def load_parameters(model, parameters):
    """Copies the named arrays into the module's state (names must match its float entries)."""
    state = model.state_dict()
    names = federated_names(model)
    missing = [n for n in names if n not in parameters]
    extra = [n for n in parameters if n not in state]
    if missing or extra:
        raise KeyError(f"the parameters do not match the module: missing {missing[:3]}, unknown {extra[:3]}")
    with torch.no_grad():
        for name in names:
            value = np.asarray(parameters[name])
            if tuple(value.shape) != tuple(state[name].shape):
                raise ValueError(f"tensor '{name}' has shape {tuple(value.shape)}; the module's is {tuple(state[name].shape)}")
            target = state[name]
            if target.device.type == "cpu":  # through a NumPy view: no copy, and read-only inputs are fine
                np.copyto(target.numpy(), value, casting="same_kind")
            else:
                target.copy_(torch.from_numpy(np.array(value, dtype=np.float32)))


def export_parameters(model):
    return {k: v.detach().cpu().numpy().astype(np.float32, copy=True)
            for k, v in model.state_dict().items() if torch.is_floating_point(v)}


class LocalEpochs:
    """One client's local training for one round: the engine's outer loop (optimiser steps) with
    its inner loop (the attack) crafting each batch's examples against the current parameters."""

    def __init__(self, model, adversarial, optimizer_settings, value_range, learning_rate, anchor=None,
                 measures_clean_loss=True):
        self.model = model
        self.adversarial = adversarial
        self.value_range = value_range
        self.measures_clean_loss = measures_clean_loss
        o = optimizer_settings
        self.parameters = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.SGD(self.parameters, lr=learning_rate, momentum=o.momentum,
                                         weight_decay=o.weight_decay)
        self.proximal_mu = o.proximal_mu if anchor is not None else 0.0
        self.anchor = anchor
        self.clean, self.adv = Stats(), Stats()
        self.kl_sum = 0.0
        self.steps = 0
        self.samples = 0

    def epoch(self, x, y, order, batch_size, attack_seed, epoch, max_steps=None):
        """Batches of `order` (consecutive runs of batch_size), at most max_steps of them."""
        n = len(order)
        batches = (n + batch_size - 1) // batch_size
        limit = batches if max_steps is None else min(batches, max_steps)
        index = torch.as_tensor(order, dtype=torch.int64)
        self.model.train()
        for b in range(limit):
            rows = index[b * batch_size:(b + 1) * batch_size]
            generator = None
            if self._uses_noise():
                generator = torch.Generator().manual_seed(seeded_order.batch_attack_seed(attack_seed, epoch, b))
            self.batch(x.index_select(0, rows), y.index_select(0, rows), generator)
        return limit

    def _uses_noise(self):
        a = self.adversarial
        return a.mode == "trades" or (a.mode in ("pgd", "mix") and a.attack.effective_random_start)

    def batch(self, xb, yb, generator):
        a, model = self.adversarial, self.model
        self.steps += 1
        self.samples += int(yb.shape[0])
        if a.mode == "none":
            self._step(lambda: self._ce(model(xb), yb, self.clean))
        elif a.mode == "pgd":
            if self.measures_clean_loss:
                self._inference_stats(xb, yb)
            adversarial = perturb(model, xb, yb, a.attack, self.value_range, generator)
            self._step(lambda: self._ce(model(adversarial), yb, self.adv))
        elif a.mode == "mix":
            adversarial = perturb(model, xb, yb, a.attack, self.value_range, generator)
            lam = a.mix_lambda
            self._step(lambda: lam * self._ce(model(xb), yb, self.clean)
                       + (1 - lam) * self._ce(model(adversarial), yb, self.adv))
        elif a.mode == "trades":
            model.eval()
            with torch.no_grad():
                clean_logits = model(xb)
            model.train()
            adversarial = trades_perturb(model, xb, clean_logits, a.attack, self.value_range, generator)
            self._step(lambda: self._trades_loss(xb, adversarial, yb))
        else:
            raise ValueError(f"adversarial mode {a.mode!r} is not none, pgd, mix or trades")

    def _ce(self, logits, labels, stats):
        """The batch's mean cross-entropy (what the step descends), its sums added to `stats`."""
        losses = F.cross_entropy(logits, labels, reduction="none")
        stats.add(logits, labels, losses)
        return losses.mean()

    def _inference_stats(self, xb, yb):
        self.model.eval()
        with torch.no_grad():
            self.clean.add(self.model(xb), yb)
        self.model.train()

    def _trades_loss(self, xb, adversarial, yb):
        """CE(f(x)) + β·mean KL(f(x) ‖ f(x_adv)), the gradient through both f(x) and f(x_adv)."""
        adversarial_logits = self.model(adversarial)
        self.adv.add(adversarial_logits, yb)
        logits = self.model(xb)
        kl = softmax_kl(logits, adversarial_logits)
        self.kl_sum += float(kl.detach().double().sum())
        return self._ce(logits, yb, self.clean) + self.adversarial.trades_beta * kl.mean()

    def _step(self, loss_fn):
        self.optimizer.zero_grad(set_to_none=True)
        loss_fn().backward()
        if self.proximal_mu:
            with torch.no_grad():
                for p, a in zip(self.parameters, self.anchor):
                    if p.grad is None:  # a parameter this batch did not reach: the proximal term still pulls
                        p.grad = torch.zeros_like(p)
                    p.grad.add_(p - a, alpha=self.proximal_mu)
        self.optimizer.step()

    def metrics(self):
        m = {"local_steps": float(self.steps), "samples": float(self.samples)}
        if self.clean.count:
            m["train_loss"], m["train_accuracy"] = self.clean.mean_loss, self.clean.accuracy
        if self.adv.count:
            m["adv_loss"], m["adv_accuracy"] = self.adv.mean_loss, self.adv.accuracy
        if self.kl_sum != 0:
            m["trades_kl"] = self.kl_sum / max(self.samples, 1)
        return m


class TorchClient:
    """One virtual client: fit trains the module on `data.train`, evaluate scores it on `data.val`
    (clean; with `robust_attack`, also robust_loss and robust_accuracy, see aviary_client.torch_evaluation)."""

    def __init__(self, model, data, client_index, run_spec_raw, value_range=None, robust_attack=None,
                 robust_subset=None, robust_seed=None):
        self.model = model
        self.data = data
        self.client_index = client_index
        self.raw = run_spec_raw or {}
        self.value_range = value_range
        self.training = training_from_json(self.raw)
        self.adversarial = adversarial_for_client(self.raw, client_index) if client_index >= 0 else None
        self.training_seed = int(self.raw.get("trainingSeed", 0))
        self.robust_attack = robust_attack
        self.robust_subset = robust_subset
        self.robust_seed = self.training_seed if robust_seed is None else robust_seed
        self.own_buffers = {k: v.clone() for k, v in model.state_dict().items() if not torch.is_floating_point(v)}

    def _restore_own_buffers(self):
        state = self.model.state_dict()
        for k, v in self.own_buffers.items():
            state[k].copy_(v)

    def _keep_own_buffers(self):
        self.own_buffers = {k: v.clone() for k, v in self.model.state_dict().items() if not torch.is_floating_point(v)}

    def fit(self, parameters, config):
        if self.data.train is None or int(self.data.train[1].shape[0]) == 0:
            raise ValueError(f"client {self.client_index} has no training samples")
        round_ = int(config.get("round", 0))
        t = self.training
        learning_rate = float(config.get("learning_rate", t.optimizer.learning_rate))
        epochs = int(config.get("local_epochs", t.local_epochs))
        load_parameters(self.model, parameters)
        self._restore_own_buffers()
        before = evaluate_stats(self.model, self.data.val, t.batch_size)
        anchor = None
        if t.optimizer.proximal_mu > 0:
            anchor = [p.detach().clone() for p in self.model.parameters() if p.requires_grad]
        local = LocalEpochs(self.model, self.adversarial, t.optimizer, self.value_range, learning_rate, anchor)
        shuffle_seed, attack_seed = seeded_order.client_round_seeds(self.training_seed, self.client_index, round_)
        x, y = self.data.train
        remaining = t.max_local_steps
        for epoch in range(epochs):
            if remaining is not None and remaining <= 0:
                break
            order = seeded_order.epoch_order(shuffle_seed, epoch, int(y.shape[0]))
            taken = local.epoch(x, y, order, t.batch_size, attack_seed, epoch, remaining)
            if remaining is not None:
                remaining -= taken
        self._keep_own_buffers()
        metrics = local.metrics()
        metrics["dataset_size"] = float(y.shape[0])
        if before.count:
            metrics["global_val_loss"], metrics["global_val_accuracy"] = before.mean_loss, before.accuracy
            after = evaluate_stats(self.model, self.data.val, t.batch_size)
            metrics["val_loss"], metrics["val_accuracy"] = after.mean_loss, after.accuracy
        return export_parameters(self.model), local.samples, metrics

    def evaluate(self, parameters, config):
        load_parameters(self.model, parameters)
        if self.client_index >= 0:
            self._restore_own_buffers()
        if self.data.val is None or int(self.data.val[1].shape[0]) == 0:
            raise ValueError(f"client {self.client_index} has no held-out samples to evaluate on")
        stats = evaluate_stats(self.model, self.data.val, self.training.batch_size)
        metrics = {"accuracy": stats.accuracy}
        if self.robust_attack is not None:
            robust = robust_stats(self.model, self.data.val, self.robust_attack, self.value_range,
                                  subset=self.robust_subset, batch_size=self.training.batch_size, seed=self.robust_seed)
            metrics["robust_loss"], metrics["robust_accuracy"] = robust.mean_loss, robust.accuracy
        return stats.mean_loss, stats.count, metrics


def configure_determinism(threads=None):
    """Deterministic kernels, and a fixed intra-op thread count (the same count gives the same
    float summation order, so runs repeat bit for bit)."""
    torch.use_deterministic_algorithms(True)
    if threads is not None:
        torch.set_num_threads(int(threads))


class TorchApp:
    """`--app module:app`: builds one module per process (clients share it; each fit loads the
    global tensors first) and asks `load_data(client_index, context)` for each client's ClientData.
    The evaluator (client index −1) gets `load_data(-1, context)`, whose `val` is the test set."""

    def __init__(self, make_model, load_data, value_range=None, robust_attack: Optional[Attack] = None,
                 robust_subset=None, threads=None):
        self.make_model = make_model
        self.load_data = load_data
        self.value_range = value_range
        self.robust_attack = robust_attack
        self.robust_subset = robust_subset
        self.threads = threads
        self._model = None

    def __call__(self, client_index, context):
        raw = getattr(context.run_spec, "raw", context.run_spec) or {}
        if self._model is None:
            configure_determinism(self.threads if self.threads is not None else raw.get("blasThreads", 1))
            torch.manual_seed(int(raw.get("trainingSeed", 0)) & 0xFFFFFFFFFFFFFFFF)
            self._model = self.make_model()
        return TorchClient(self._model, self.load_data(client_index, context), client_index, raw,
                           value_range=self.value_range, robust_attack=self.robust_attack,
                           robust_subset=self.robust_subset)
