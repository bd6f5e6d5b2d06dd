"""The objective protocol and the measurement it returns.

An objective is anything with a ``name``, a ``direction`` and
``evaluate(model, tokenizer) -> Measurement``. It is built once per campaign
(data read and tokenized then) and called once per trial on the same live
model, so ``evaluate`` must not keep state between calls that changes results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

Direction = Literal["maximize", "minimize"]


@dataclass(frozen=True)
class Measurement:
    """The result of one objective on one model.

    Attributes:
        value: The score, or ``None`` when the objective failed.
        stderr: Standard error of the value where it has one (mean over examples).
        n: Number of examples scored (0 for objectives without data).
        seconds: Wall time of the evaluation.
        error: Why the objective failed (exception text, "NaN", "out of memory"),
            ``None`` on success.
        scores: Per-example scores of a measurement at a fidelity, in the
            objective's example order (:func:`~mmmo.objectives.data.example_order`),
            so a promotion to a higher fidelity scores only the examples it adds;
            ``None`` otherwise.
    """

    value: float | None
    stderr: float | None = None
    n: int = 0
    seconds: float = 0.0
    error: str | None = None
    scores: tuple[float, ...] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.value is not None and math.isfinite(self.value)

    @classmethod
    def failure(cls, error: str, seconds: float = 0.0) -> Measurement:
        return cls(value=None, error=error, seconds=seconds)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "value": self.value,
            "stderr": self.stderr,
            "n": self.n,
            "seconds": self.seconds,
            "error": self.error,
        }
        if self.scores is not None:
            data["scores"] = list(self.scores)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        scores = data.get("scores")
        return cls(
            **{k: data.get(k) for k in ("value", "stderr", "n", "seconds", "error")},
            scores=None if scores is None else tuple(float(v) for v in scores),
        )


@runtime_checkable
class Objective(Protocol):
    """What a campaign needs of an objective."""

    name: str
    direction: Direction

    def evaluate(self, model: Any, tokenizer: Any) -> Measurement: ...
