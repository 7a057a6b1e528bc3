"""The WELCOME run spec (JSON of Swift's `RunSpec`), read into what a Python process needs: the
tensor table (protocol 5: `tensors`, a list of {name, shape, dtype} in the vector's order), the
run's delta encoding and quantisation options, the training seed, the run id and its resume
history. The whole JSON stays available as `raw` for the user's code."""
import json
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from .deltas import DeltaFormat, Encoding
from .privacy import Privacy

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


class RunSpecError(ValueError):
    """A run spec this SDK cannot use, saying which key and why."""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple
    dtype: str = "F32"

    @property
    def count(self):
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass
class RunSpec:
    raw: dict
    tensors: List[TensorSpec]
    encoding: Encoding
    training_seed: int = 0
    residual_max_age: Optional[int] = None
    rounding: str = "nearest"
    error_feedback: bool = False
    run_id: Optional[str] = None
    resumes: List[int] = field(default_factory=list)
    #: `[privacy]` to apply to every delta (`privacy.Privacy`); None when off.
    privacy: Optional[Privacy] = None

    @property
    def name(self):
        return self.raw.get("name", "")

    @property
    def clients(self):
        return self.raw.get("data", {}).get("clients")

    @property
    def parameter_count(self):
        return sum(t.count for t in self.tensors)

    @property
    def delta_format(self):
        return DeltaFormat(self.encoding, [t.count for t in self.tensors])


def parse_encoding(value):
    """Swift's synthesised Codable for `DeltaEncoding`: {"f32": {}} or {"topk": {"fraction": f}}."""
    if value is None:
        return Encoding("f32")
    if isinstance(value, dict) and len(value) == 1:
        (name, body), = value.items()
        if name in ("f32", "f16", "int8"):
            return Encoding(name)
        if name == "topk" and isinstance(body, dict) and isinstance(body.get("fraction"), (int, float)):
            return Encoding("topk", float(body["fraction"]))
    raise RunSpecError(f"compression: {json.dumps(value)} is not an encoding this SDK knows (f32, f16, int8, topk)")


def check_privacy(value):
    """`[privacy]` as the run spec carries it (Swift's `PrivacySettings`; absent when off): the
    modes this SDK applies (`privacy.py`: central DP with server- or client-side clipping, fixed
    or adaptive, and local DP); anything else is refused, naming it."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise RunSpecError(f"privacy: {json.dumps(value)} is not an object")
    mode, clip_on = value.get("mode", "none"), value.get("clipOn", "server")
    if mode not in ("none", "central", "local"):
        raise RunSpecError(f"privacy: mode {json.dumps(mode)} is not one this SDK knows (none, central, local)")
    if clip_on not in ("server", "client"):
        raise RunSpecError(f"privacy: clip_on {json.dumps(clip_on)} is not one this SDK knows (server, client)")
    clipping = value.get("clipping", "fixed")
    if clipping not in ("fixed", "adaptive"):
        raise RunSpecError(f"privacy: clipping {json.dumps(clipping)} is not one this SDK knows (fixed, adaptive)")
    for key in ("clipNorm", "noiseMultiplier"):
        v = value.get(key, 1)
        if not isinstance(v, (int, float)) or v != v or v < 0:
            raise RunSpecError(f"privacy: {key} = {json.dumps(v)} is not a non-negative number")


def check_secagg(value):
    """`secagg` in the run spec (protocol 6): secure aggregation's stages, which this SDK does not
    implement. It refuses at WELCOME rather than send an update the run expects masked."""
    if value is None or (isinstance(value, dict) and value.get("enabled") is False):
        return
    raise RunSpecError("secagg: this run uses secure aggregation ([secagg] in the topology), which the Python SDK "
                       "does not implement yet; it refuses rather than send its update unmasked")


def parse(data):
    """A RunSpec from WELCOME's runSpec bytes."""
    try:
        raw = json.loads(bytes(data).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunSpecError(f"the run spec is not JSON: {e}") from None
    if not isinstance(raw, dict):
        raise RunSpecError("the run spec is not a JSON object")
    rows = raw.get("tensors")
    if not isinstance(rows, list):
        raise RunSpecError("the run spec has no tensor table (`tensors`); the server speaks an older protocol")
    tensors = []
    for i, row in enumerate(rows):
        try:
            shape = tuple(int(d) for d in row["shape"])
            tensors.append(TensorSpec(str(row["name"]), shape, str(row.get("dtype", "F32"))))
        except (KeyError, TypeError, ValueError):
            raise RunSpecError(f"tensors[{i}] is not {{name, shape, dtype}}: {json.dumps(row)}") from None
    check_privacy(raw.get("privacy"))
    check_secagg(raw.get("secagg"))
    q = raw.get("quantisation") or {}
    return RunSpec(raw=raw, tensors=tensors, encoding=parse_encoding(raw.get("compression")),
                   training_seed=int(raw.get("trainingSeed", 0)), residual_max_age=raw.get("residualMaxAge"),
                   rounding=q.get("rounding", "nearest"), error_feedback=bool(q.get("errorFeedback", False)),
                   run_id=raw.get("runID"), resumes=[int(r) for r in raw.get("resumes", [])],
                   privacy=Privacy.from_spec(raw.get("privacy")))
