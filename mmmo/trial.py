"""Trials as the store keeps them and as the campaign reports them: frozen data, no torch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from mmmo.objectives.base import Measurement

__all__ = ["TrialRecord", "TrialReport", "TrialStatus", "TRIAL_STATUSES", "searched_seed"]

TrialStatus = Literal["pending", "running", "complete", "failed"]
TRIAL_STATUSES: tuple[str, ...] = ("pending", "running", "complete", "failed")


def searched_seed(campaign_seed: int, index: int) -> int:
    """The plan seed of the searched trial created as the campaign's ``index``-th trial."""
    return (campaign_seed * 1_000_003 + index) % (2**31)


@dataclass(frozen=True)
class TrialRecord:
    """One row of the store.

    Attributes:
        trial_id: Unique, increasing with creation order.
        status: ``pending``, ``running``, ``complete`` or ``failed``.
        proposer: What proposed it (``sobol``, ``qlognehvi``, ``reference``, ...).
        label: Name of a reference trial (``base``, a source name,
            ``recipe:ties``, ...), ``None`` for searched trials.
        x: The unit-cube vector (``d`` floats), ``None`` when the trial is not a
            point of the space (most reference trials).
        plan: The decoded merge plan (``MergePlan.to_dict()``), ``None`` for none.
        seed: The plan's seed.
        params: Free-form parameters of a trial recorded from outside the search loop.
        measurements: Objective name -> measurement (empty until finished).
        seconds_merge / seconds_eval / seconds_propose: Timings; a batch's
            proposal time is shared equally by its trials.
        error: Why the trial failed, ``None`` otherwise.
        attempts: Times it was started (more than 1 after a resume re-ran it).
        created_at / finished_at: Unix times.
        origin: Who made it: ``reference`` (a reference trial), ``searched``
            (the search loop; counted against the budget) or ``external``
            (recorded from outside the loop).
        worker: The worker that evaluated it (its last attempt), ``None`` before.
        fidelity / cost: Evaluation fidelity and cost, where known.
    """

    trial_id: int
    status: TrialStatus
    proposer: str
    label: str | None
    x: tuple[float, ...] | None
    plan: Mapping | None
    seed: int
    params: Mapping | None = None
    measurements: Mapping[str, Measurement] = field(default_factory=dict)
    seconds_merge: float | None = None
    seconds_eval: float | None = None
    seconds_propose: float | None = None
    error: str | None = None
    attempts: int = 0
    created_at: float | None = None
    finished_at: float | None = None
    origin: Literal["reference", "searched", "external"] = field(kw_only=True)
    worker: str | None = None
    fidelity: float | None = None
    cost: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "measurements", MappingProxyType(dict(self.measurements)))

    @property
    def is_reference(self) -> bool:
        return self.origin == "reference"

    @property
    def is_searched(self) -> bool:
        """A trial of the search loop: the ones the budget counts."""
        return self.origin == "searched"

    @property
    def finished(self) -> bool:
        return self.status in ("complete", "failed")


@dataclass(frozen=True)
class TrialReport:
    """What a campaign's ``run`` callback receives after every finished trial.

    Attributes:
        trial_id: The trial.
        status: ``complete`` or ``failed``.
        label: Reference label, ``None`` for searched trials.
        values: Objective name -> value in the objective's own direction (``None`` if it failed).
        hypervolume: Hypervolume of all complete trials so far (``None`` before a reference point exists).
        done: Searched trials finished so far (references not counted).
        total: The campaign's trial budget.
        error: Why the trial failed, ``None`` otherwise.
        worker: The worker that evaluated it.
    """

    trial_id: int
    status: TrialStatus
    label: str | None
    values: Mapping[str, float | None]
    hypervolume: float | None
    done: int
    total: int
    error: str | None = None
    worker: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))
