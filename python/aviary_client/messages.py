"""Every message of protocol 7 (docs/PROTOCOL.md) as a plain dataclass, and UPDATE's delta
payloads. The codec (`wire`) turns them into frames and back; nothing here does I/O."""
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Dict, List, Optional, Tuple

import numpy as np

PROTOCOL_VERSION = 7

ROLE_TRAINER = 0
ROLE_EVALUATOR = 1


class Kind(IntEnum):
    """One byte on the wire; values are never reused with another meaning."""
    HELLO = 1
    WELCOME = 2
    REJECT = 3
    TRAIN = 4
    UPDATE = 5
    FAILURE = 6
    HEARTBEAT = 7
    SHUTDOWN = 8
    BYE = 9
    MODEL = 10
    RESET = 11
    EVALUATE = 12
    EVAL_RESULT = 13
    SECAGG = 14
    SECAGG_REPLY = 15


@dataclass
class Claim:
    """A client a process asks to host: a pinned index (None: the server assigns one) and the
    token presented for it (0: none)."""
    index: Optional[int]
    token: int = 0


@dataclass
class Hello:
    process_name: str
    claims: List[Claim]
    role: int = ROLE_TRAINER
    kind = Kind.HELLO


@dataclass
class Refused:
    """Claims refused for one reason: how many, whether asking again may succeed and the lowest
    refused indices as at most 8 inclusive ranges."""
    reason: str
    retry: bool
    claims: int
    indices: List[Tuple[int, int]]

    def __str__(self):
        listed = sum(last - first + 1 for first, last in self.indices)
        count = f"{self.claims} {'claim' if self.claims == 1 else 'claims'}"
        if not self.indices:
            return f"{count}, server-assigned: {self.reason}"
        shown = ",".join(str(a) if a == b else f"{a}-{b}" for a, b in self.indices)
        if self.claims == 1 and listed == 1:
            return f"client {shown}: {self.reason}"
        return f"clients {shown}{',…' if self.claims > listed else ''} ({count}): {self.reason}"


@dataclass
class Welcome:
    accepted: List[Tuple[int, int]]
    refused: List[Refused]
    heartbeat_interval: float
    liveness: int
    run_spec: bytes
    kind = Kind.WELCOME


@dataclass
class Reject:
    reason: str
    kind = Kind.REJECT


@dataclass
class Train:
    round: int
    clients: List[int]
    config: Dict[str, float]
    kind = Kind.TRAIN


@dataclass
class F32Payload:
    values: np.ndarray  # float32
    tag = 0
    name = "f32"


@dataclass
class F16Payload:
    bits: np.ndarray  # uint16 binary16 bit patterns
    tag = 1
    name = "f16"


@dataclass
class Int8Payload:
    scales: np.ndarray  # float32, one per tensor
    values: np.ndarray  # int8
    tag = 2
    name = "int8"


@dataclass
class TopKPayload:
    length: int
    indices: np.ndarray  # uint32, strictly increasing
    values: np.ndarray   # float32
    tag = 3
    name = "topk"


@dataclass
class Update:
    round: int
    client_index: int
    token: int
    samples: int
    metrics: Dict[str, float]
    payload: object
    kind = Kind.UPDATE


@dataclass
class Failure:
    round: int
    client_index: int
    token: int
    reason: str
    kind = Kind.FAILURE


@dataclass
class Heartbeat:
    kind = Kind.HEARTBEAT


@dataclass
class Shutdown:
    reason: str
    kind = Kind.SHUTDOWN


@dataclass
class Bye:
    clients: List[int]
    kind = Kind.BYE


@dataclass
class Model:
    round: int
    parameters: np.ndarray  # float32
    kind = Kind.MODEL


@dataclass
class Reset:
    reason: str
    kind = Kind.RESET


@dataclass
class Evaluate:
    """Evaluate MODEL(round) on these hosted clients' held-out splits (empty: the evaluator's
    centralised test set)."""
    round: int
    clients: List[int]
    config: Dict[str, float]
    kind = Kind.EVALUATE


@dataclass
class EvalResult:
    round: int
    client_index: int
    token: int
    samples: int
    metrics: Dict[str, float] = field(default_factory=dict)
    error: str = ""
    kind = Kind.EVAL_RESULT


@dataclass
class SecAgg:
    """A secure-aggregation stage request (protocol 6): stage 1-4 and its body, whose layout
    docs/PROTOCOL.md section 8 gives. This SDK decodes the envelope only: it refuses SecAgg runs
    at WELCOME (run_spec.check_secagg), so no server sends it one."""
    round: int
    client_index: int
    stage: int
    body: bytes
    kind = Kind.SECAGG


@dataclass
class SecAggReply:
    round: int
    client_index: int
    token: int
    stage: int
    body: bytes
    kind = Kind.SECAGG_REPLY
