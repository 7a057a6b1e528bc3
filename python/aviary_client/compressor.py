"""Encodes a process's UPDATE deltas in the run's encoding and keeps the error-feedback
residuals (top-k always; f16/int8 with `error_feedback`), as Swift's `DeltaCompressor`:
versions per round in a store, chosen and deleted by `ResidualHistory`'s rules, so training a
round again uses the residual the first attempt used and a resumed run repeats bit for bit."""
from . import deltas, topk
from .random_stream import rounding_stream
from .residual_history import ResidualHistory, Version, saved_round_when_model_arrives


class DeltaCompressor:
    def __init__(self, fmt, history, store, stochastic=False, error_feedback=False, training_seed=0):
        self.format = fmt
        self.history = history
        self.store = store
        self.stochastic = stochastic
        self.error_feedback = error_feedback
        self.training_seed = training_seed
        self.recheck = {}  # client -> savedRound at which to look at its versions again
        self.saved_round = -1

    @classmethod
    def for_spec(cls, spec, store):
        return cls(spec.delta_format, ResidualHistory(list(spec.resumes), spec.residual_max_age), store,
                   stochastic=spec.rounding == "stochastic", error_feedback=spec.error_feedback,
                   training_seed=spec.training_seed)

    @property
    def uses_feedback(self):
        return self.format.encoding.uses_error_feedback(self.error_feedback)

    def adopt_stored(self, hosted):
        """Files an earlier process left for `hosted` clients are pruned like this process's own."""
        if not self.uses_feedback or self.history.max_age is None:
            return
        for client in self.store.clients():
            if client in hosted and client not in self.recheck:
                self.recheck[client] = self.saved_round + 1

    def adopt(self, resumes):
        """A later WELCOME of the same run: its resume history."""
        self.history.resumes = list(resumes)

    def model_arrived(self, round_):
        """MODEL for `round_`: versions no resume can reach again are deleted. Returns the errors
        of deletions that failed (harmless: a later look deletes them)."""
        saved = saved_round_when_model_arrives(round_)
        if saved <= self.saved_round:
            return []
        self.saved_round = saved
        failures = []
        for client, when in list(self.recheck.items()):
            if when <= saved:
                try:
                    self._prune(client, self.store.versions(client))
                except Exception as e:
                    failures.append(e)
        return failures

    def encode(self, round_, client, delta):
        """(payload, extra metrics) for `client`'s dense f32 delta of round `round_`."""
        name = self.format.encoding.name
        if name == "f32":
            return deltas.encode(delta, self.format)[0], {}
        if name == "topk":
            k = self.format.topk_count
            return self._with_residual(round_, client, delta, lambda d, r: topk.step(d, r, k)), {}
        stream = rounding_stream(self.training_seed, client, round_) if (name == "int8" and self.stochastic) else None
        clamped = [0]
        if self.error_feedback:
            def step(d, r):
                payload, clamped[0], new = deltas.feedback_step(d, r, self.format, stream)
                return payload, new
            payload = self._with_residual(round_, client, delta, step)
        else:
            payload, clamped[0] = deltas.encode(delta, self.format, stream)
        return payload, ({"f16_clamped": float(clamped[0])} if clamped[0] > 0 else {})

    def _with_residual(self, round_, client, delta, step):
        stored = self.store.versions(client)
        chosen = self.history.residual_for_round(round_, stored)
        residual = None if chosen is None else self.store.load(client, chosen, self.format.parameter_count)
        payload, new_residual = step(delta, residual)
        written = Version(round_, self.history.generation)
        self.store.save(client, written, new_residual)
        if written not in stored:
            stored.append(written)
        self._prune(client, stored)
        return payload

    def _prune(self, client, stored):
        deletable = self.history.deletable(stored, self.saved_round)
        for v in deletable:
            self.store.delete(client, v)
        kept = [v for v in stored if v not in deletable]
        if any(v.round > self.saved_round for v in kept):
            self.recheck[client] = self.saved_round + 1
        elif self.history.max_age is not None and kept:
            self.recheck[client] = max(v.round for v in kept) + self.history.max_age
        else:
            self.recheck.pop(client, None)
