"""What the campaign sends a worker and what it gets back: plain, JSON-able values.

A request names a trial and carries its merge plan (``MergePlan.to_dict()``),
never weights: a worker reads the models from paths it resolves itself. An
outcome carries the measurements as dictionaries, so both cross a process or
machine boundary as JSON (:meth:`to_json` / :meth:`from_json`) and a worker
never needs the campaign's store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from mmmo.objectives.base import Measurement

__all__ = ["OutcomeStatus", "TrialOutcome", "TrialRequest"]

# ``lost``: the worker died before answering (killed, crashed, its node gone);
# the trial itself says nothing about the merge and is run again.
OutcomeStatus = Literal["complete", "failed", "lost"]


@dataclass(frozen=True)
class TrialRequest:
    """One trial to evaluate.

    Attributes:
        trial_id: The store's id of the trial.
        plan: The merge plan as ``MergePlan.to_dict()`` gives it.
        fidelity: How much of each objective to evaluate, where an objective
            supports it (``None``: all of it).
        prior: Objective name -> per-example scores a lower fidelity of the
            same plan already has (a promotion): only the examples after them are scored.
    """

    trial_id: int
    plan: Mapping[str, Any]
    fidelity: float | None = None
    prior: Mapping[str, Sequence[float]] | None = None

    def to_json(self) -> str:
        prior = None if self.prior is None else {k: list(v) for k, v in self.prior.items()}
        return json.dumps(asdict(self) | {"plan": dict(self.plan), "prior": prior})

    @classmethod
    def from_json(cls, text: str) -> TrialRequest:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class TrialOutcome:
    """What evaluating one request gave.

    Attributes:
        trial_id: The request's trial.
        status: ``complete``, ``failed`` (the merge or an objective failed;
            stored with ``error``) or ``lost`` (the worker died; run it again).
        measurements: Objective name -> ``Measurement.to_dict()``.
        seconds_merge / seconds_eval: Time to merge and to score, on the worker.
        error: Why it failed or was lost, ``None`` when complete.
        worker: The worker that answered (``host:pid`` on Ray).
        out_of_memory: The worker ran out of memory; it is restarted before its next trial.
        cost: Examples scored by this evaluation (set for a trial at a fidelity).
    """

    trial_id: int
    status: OutcomeStatus
    measurements: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    seconds_merge: float | None = None
    seconds_eval: float | None = None
    error: str | None = None
    worker: str | None = None
    out_of_memory: bool = False
    cost: float | None = None

    @classmethod
    def lost(cls, trial_id: int, worker: str | None, error: str) -> TrialOutcome:
        return cls(trial_id=trial_id, status="lost", worker=worker, error=error)

    def measurement_objects(self) -> dict[str, Measurement]:
        return {name: Measurement.from_dict(dict(m)) for name, m in self.measurements.items()}

    def to_json(self) -> str:
        return json.dumps(asdict(self) | {"measurements": {k: dict(v) for k, v in self.measurements.items()}})

    @classmethod
    def from_json(cls, text: str) -> TrialOutcome:
        return cls(**json.loads(text))
