"""Decode-side bounds (docs/PROTOCOL.md section 3, Swift `CodecLimits`): checked before
anything is allocated, so a hostile frame cannot make the process allocate absurd amounts."""
from dataclasses import dataclass


@dataclass(frozen=True)
class CodecLimits:
    max_string_bytes: int = 64 << 10
    max_blob_bytes: int = 16 << 20
    max_metrics: int = 256
    max_vector_count: int = 1 << 28
    max_list_entries: int = 1 << 21


DEFAULT_LIMITS = CodecLimits()
