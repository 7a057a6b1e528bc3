"""Which stored error-feedback residual a client trains with and which it may delete, as
Swift's `ResidualHistory` (docs/PROTOCOL.md, "Error-feedback residuals"). Pure.

A version is (round, generation); the generation is how many times the run had been resumed
when the version was written. `resumes[g]` is the round the server resumed after, moving the
run from generation g to g + 1."""
from dataclasses import dataclass, field
from typing import List, NamedTuple, Optional


class Version(NamedTuple):
    round: int
    generation: int

    def __str__(self):
        return f"round {self.round} (generation {self.generation})"


@dataclass
class ResidualHistory:
    resumes: List[int] = field(default_factory=list)
    max_age: Optional[int] = None

    @property
    def generation(self):
        return len(self.resumes)

    def is_dead(self, v):
        """True when a later resume went back before v's round."""
        return v.generation < len(self.resumes) and any(r < v.round for r in self.resumes[max(v.generation, 0):])

    def residual_for_round(self, round_, stored):
        """The version to add to round `round_`'s delta; None: start from zero."""
        live = [v for v in stored if not self.is_dead(v) and v.round < round_]
        if not live:
            return None
        latest = max(live)
        if self.max_age is not None and round_ - latest.round > self.max_age:
            return None
        return latest

    def deletable(self, stored, saved):
        """Dead versions, and of the live ones at or before `saved` all but the newest (that one
        too when it is too old for round saved + 1)."""
        delete = [v for v in stored if self.is_dead(v)]
        settled = sorted(v for v in stored if not self.is_dead(v) and v.round <= saved)
        delete += settled[:-1]
        if settled and self.max_age is not None and saved + 1 - settled[-1].round > self.max_age:
            delete.append(settled[-1])
        return sorted(delete)


def saved_round_when_model_arrives(model_round):
    """The last round certainly in the server's saved state once MODEL for `model_round` arrived."""
    return model_round - 2
