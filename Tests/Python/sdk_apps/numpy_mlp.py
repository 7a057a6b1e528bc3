"""A NumPy-only client app for the SDK's integration tests: an MLP laid out by the run spec's
tensor table (fc1.weight, fc1.bias, ... as the built-in `mlp` names them), trained with plain
SGD on data each client draws from its own seed (a fixed linear teacher labels it). Training
is a pure function of the model, the client and the round, so runs repeat bit for bit.

Environment knobs for tests: SDK_TEST_FIT_SLEEP (seconds fit sleeps, to be mid-round when
killed), SDK_TEST_FAIL_CLIENT (this client's fit raises)."""
import os
import time

import numpy as np

import aviary_client


def layers(tensors):
    names = [t.name for t in tensors]
    out = []
    for t in tensors:
        if t.name.endswith(".weight"):
            bias = t.name[: -len(".weight")] + ".bias"
            assert bias in names, f"{t.name} has no bias"
            out.append((t.name, bias))
    return out


class MLPClient(aviary_client.Client):
    def __init__(self, index, context):
        self.index = index
        self.layers = layers(context.run_spec.tensors)
        shapes = {t.name: t.shape for t in context.run_spec.tensors}
        inputs = shapes[self.layers[0][0]][1]
        classes = shapes[self.layers[-1][0]][0]
        teacher = np.random.default_rng(1234).normal(size=(inputs, classes))
        rng = np.random.default_rng(10_000 + index)
        self.x = rng.normal(size=(60, inputs)).astype(np.float32)
        self.y = np.argmax(self.x @ teacher, axis=1)
        self.x_test = rng.normal(size=(30, inputs)).astype(np.float32)
        self.y_test = np.argmax(self.x_test @ teacher, axis=1)

    def forward(self, p, x):
        acts = [x]
        for i, (w, b) in enumerate(self.layers):
            z = acts[-1] @ p[w].T + p[b]
            acts.append(np.maximum(z, 0) if i < len(self.layers) - 1 else z)
        return acts

    def loss(self, logits, y):
        z = logits - logits.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(len(y)), y].mean()), np.exp(logp)

    def fit(self, parameters, config):
        if os.environ.get("SDK_TEST_FAIL_CLIENT") == str(self.index):
            raise RuntimeError(f"client {self.index} was told to fail")
        time.sleep(float(os.environ.get("SDK_TEST_FIT_SLEEP", "0")))
        p = {k: v.copy() for k, v in parameters.items()}
        order = np.random.default_rng([self.index, int(config["round"])]).permutation(len(self.x))
        losses = []
        for start in range(0, len(order), 10):
            batch = order[start:start + 10]
            x, y = self.x[batch], self.y[batch]
            acts = self.forward(p, x)
            loss, probs = self.loss(acts[-1], y)
            losses.append(loss)
            grad = probs
            grad[np.arange(len(y)), y] -= 1
            grad /= len(y)
            for i in range(len(self.layers) - 1, -1, -1):
                w, b = self.layers[i]
                gw, gb = grad.T @ acts[i], grad.sum(axis=0)
                if i > 0:
                    grad = (grad @ p[w]) * (acts[i] > 0)
                p[w] = (p[w] - np.float32(0.05) * gw).astype(np.float32)
                p[b] = (p[b] - np.float32(0.05) * gb).astype(np.float32)
        return p, len(self.x), {"train_loss": float(np.mean(losses)), "local_steps": float(len(losses))}

    def evaluate(self, parameters, config):
        logits = self.forward(parameters, self.x_test)[-1]
        loss, _ = self.loss(logits, self.y_test)
        accuracy = float((logits.argmax(axis=1) == self.y_test).mean())
        return loss, len(self.y_test), {"accuracy": accuracy}


def make_client(client_index, context):
    return MLPClient(client_index, context)
