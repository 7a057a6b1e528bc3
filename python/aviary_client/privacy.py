"""`[privacy]` on a Python client (docs/PRIVACY.md, docs/PYTHON.md): clip → noise, before the
compressor sees the delta, as Swift's `LocalTraining.privatise` does.

- Client-side clipping (`clip_on = "client"`, and always under local DP): the dense f32 delta is
  scaled into the ℓ2 ball of radius S (its norm summed in float64).
- Adaptive clipping on the client (central, `clipping = "adaptive"`, `clip_on = "client"`): S is
  the round's clip norm from TRAIN's config (`clip_norm`), and the update reports
  `unclipped` = 1[‖Δ‖ ≤ S], its norm before clipping.
- Local DP (`mode = "local"`): N(0, (z·S)²) is added to every coordinate, from the client's own
  stream for the round (`noise_stream`).

The noise stream is NumPy's: `numpy.random.Generator(numpy.random.PCG64(numpy.random.SeedSequence(
[privacy seed, 13, client, round])))`, drawing `standard_normal(P)` in float64, scaled by z·S and
rounded to f32. It is fixed by (seed, client, round), so a client's noise is the same run to run
and whichever process hosts it; it is not Swift's xoshiro/Box–Muller stream, so a Python client's
noise differs from a Swift client's in the same slot. NumPy keeps PCG64's bits stable, but not
`standard_normal`'s algorithm across major versions: reproducible for one NumPy version."""
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

#: `RandomStream.Purpose.privacyNoise` on the Swift side: the stream's namespace.
PURPOSE_PRIVACY_NOISE = 13
ROUND_CLIP_NORM_KEY = "clip_norm"
UNCLIPPED_METRIC = "unclipped"


class PrivacyError(Exception):
    """[privacy] cannot be applied as the server asked; the message is the FAILURE reason."""


@dataclass(frozen=True)
class Privacy:
    mode: str
    clip_on: str
    clipping: str
    clip_norm: float
    noise_multiplier: float
    seed: int

    @classmethod
    def from_spec(cls, value) -> Optional["Privacy"]:
        """From the run spec's `privacy` (Swift's `PrivacySettings`); None when off."""
        if not value or value.get("mode", "none") == "none":
            return None
        return cls(mode=value["mode"], clip_on=value.get("clipOn", "server"), clipping=value.get("clipping", "fixed"),
                   clip_norm=float(value.get("clipNorm", 1)), noise_multiplier=float(value.get("noiseMultiplier", 1)),
                   seed=int(value.get("seed", 6)))

    @property
    def clips(self):
        return self.mode == "local" or self.clip_on == "client"

    @property
    def reports_unclipped(self):
        return self.mode == "central" and self.clipping == "adaptive" and self.clip_on == "client"

    def round_clip_norm(self, config, client, round_):
        """S this round: `clip_norm` of the run spec, or TRAIN's under adaptive client-side clipping."""
        if not self.reports_unclipped:
            return self.clip_norm
        s = config.get(ROUND_CLIP_NORM_KEY)
        if not isinstance(s, (int, float)) or not math.isfinite(s) or s <= 0:
            got = f"{ROUND_CLIP_NORM_KEY} = {s}" if s is not None else f"no {ROUND_CLIP_NORM_KEY}"
            raise PrivacyError(f'client {client}, round {round_}: adaptive clipping with clip_on = "client": '
                               f"TRAIN's config has {got}, not the round's positive clip norm")
        return float(s)

    def apply(self, delta, client, round_, config):
        """Clips (and under local DP noises) `delta` (f32) in place; returns the metrics to add."""
        if not self.clips:
            return {}
        s = self.round_clip_norm(config, client, round_)
        norm = clip(delta, s)
        if self.mode == "local":
            add_noise(delta, self.noise_multiplier * s, noise_stream(self.seed, client, round_))
        return {UNCLIPPED_METRIC: 1.0 if norm <= s else 0.0} if self.reports_unclipped else {}


def clip(delta, clip_norm):
    """Scales the f32 `delta` into the ℓ2 ball of radius `clip_norm` in place; its norm before."""
    norm = float(np.sqrt(np.dot(delta.astype(np.float64), delta.astype(np.float64))))
    if norm > clip_norm:
        delta *= np.float32(clip_norm / norm)
    return norm


def noise_stream(seed, client, round_):
    """The client's own noise stream for the round (see the module's docstring)."""
    sequence = np.random.SeedSequence([seed & (2**64 - 1), PURPOSE_PRIVACY_NOISE, client, round_ & 0xFFFFFFFF])
    return np.random.Generator(np.random.PCG64(sequence))


def add_noise(delta, std, stream):
    """delta += N(0, std²) per coordinate, drawn in index order in float64, rounded to f32."""
    if std > 0:
        delta += (std * stream.standard_normal(delta.shape[0])).astype(np.float32)
