"""The trial evaluator: one process's pool, live model and objectives, and ``evaluate``.

Everything that does not depend on the trial is built once, when the
evaluator is made: the model pool (base weights and task vectors), the merger
with its live model, and the objectives (data tokenized once). Each
:meth:`TrialEvaluator.evaluate` then merges one plan into the live model and
scores it. Reference trials are plans like any other (base: every weight 0;
a source: its weight 1 and the others 0, at density 1), so there is one path.

A trial's failure is data: a plan that cannot be merged or an objective that
fails gives a ``failed`` outcome with the reason, and running out of memory
is flagged so the executor restarts the worker before it takes another trial
(its live model may be half written).
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import torch

from mmmo.config import CampaignConfig
from mmmo.evaluation.messages import TrialOutcome, TrialRequest
from mmmo.objectives.guard import failure_text
from mmmo.plan import MergePlan
from mmmo.search.space import SearchSpace

__all__ = ["TrialEvaluator", "default_worker_name"]


def _is_out_of_memory(error: str) -> bool:
    """Whether a failure text (:func:`~mmmo.objectives.guard.failure_text`) is an out-of-memory error."""
    return error.startswith(("out of memory", "MemoryError"))


def default_worker_name() -> str:
    """``host:pid``: names a worker process across the machines of a cluster."""
    return f"{socket.gethostname()}:{os.getpid()}"


class TrialEvaluator:
    """Merge and score trials of one campaign in this process.

    Args:
        config: The campaign's config (models, space, objectives, device, dtype).
        worker: The name outcomes carry (default: ``host:pid``).
        with_objectives: Build the objectives now (default) or on first use;
            exporting a merge needs only the merger.

    Attributes:
        merger: The :class:`~mmmo.merge.Merger` holding the live model.
        worker: This evaluator's worker name.
    """

    def __init__(
        self,
        config: CampaignConfig,
        worker: str | None = None,
        with_objectives: bool = True,
        data_seed: int = 0,
    ) -> None:
        from mmmo.merge import Merger
        from mmmo.model_refs import resolve_campaign_models, with_local_models
        from mmmo.preflight import check_device, check_models
        from mmmo.sources import ModelPool
        from mmmo.sources.checkpoint import checkpoint_dtype

        self.config = config
        self.worker = worker or default_worker_name()
        self.data_seed = data_seed
        check_device(config.device)
        # Hub ids resolve in this node's own cache; every file is checked from its header before loading.
        models = resolve_campaign_models(config)
        check_models(with_local_models(config, models))
        dtype = checkpoint_dtype(models.base) if config.dtype == "auto" else getattr(torch, config.dtype)
        device = config.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        pool = ModelPool.load(
            models.base, models.sources, dtype=dtype, storage=config.storage, trust_remote_code=config.trust_remote_code
        )
        # The tensors are known only now: refuse a granularity whose groups are empty.
        SearchSpace(config.space, pool.names, layout=pool.layout)
        self.merger = Merger(pool, device=device)
        self._objectives: list | None = None
        if with_objectives:
            self.objectives  # noqa: B018 - built now, so a bad objective fails before any trial

    @classmethod
    def from_json(cls, config_json: str, worker: str | None = None, data_seed: int = 0) -> TrialEvaluator:
        """An evaluator for the campaign config ``config_json`` (how a remote worker gets it)."""
        return cls(CampaignConfig.model_validate_json(config_json), worker, data_seed=data_seed)

    @property
    def objectives(self) -> list[Any]:
        if self._objectives is None:
            from mmmo.objectives import build_objectives

            objectives = build_objectives(
                self.config.objectives, self.merger.tokenizer, self.merger.pool.base_state, seed=self.data_seed
            )
            if self.config.fidelity is not None:
                from mmmo.fidelity.scoring import check_subsettable

                check_subsettable(objectives, [spec.kind for spec in self.config.objectives])
            self._objectives = objectives
        return self._objectives

    @property
    def directions(self) -> tuple[str, ...]:
        """Each objective's direction (lm-eval objectives know theirs once built)."""
        return tuple(o.direction for o in self.objectives)

    def evaluate(self, request: TrialRequest) -> TrialOutcome:
        """Merge ``request.plan`` into the live model and score every objective; never raises."""
        from mmmo.objectives import evaluate_objectives

        start = time.perf_counter()
        try:
            self.merger.apply(MergePlan.from_dict(dict(request.plan)))
        except Exception as exc:  # noqa: BLE001 - a plan that cannot be merged is a failed trial
            error = failure_text(exc)
            return TrialOutcome(
                trial_id=request.trial_id,
                status="failed",
                error=f"merge: {error}",
                worker=self.worker,
                out_of_memory=_is_out_of_memory(error),
            )
        seconds_merge = time.perf_counter() - start
        start = time.perf_counter()
        cost = None
        if request.fidelity is None:
            measurements = evaluate_objectives(self.objectives, self.merger.model, self.merger.tokenizer)
        else:
            from mmmo.fidelity.scoring import evaluate_at_fidelity

            measurements, cost = evaluate_at_fidelity(
                self.objectives, self.merger.model, self.merger.tokenizer, request.fidelity,
                request.prior, seed=self.data_seed,
            )
        seconds_eval = time.perf_counter() - start
        failures = [f"{name}: {m.error or f'value {m.value!r}'}" for name, m in measurements.items() if not m.ok]
        return TrialOutcome(
            trial_id=request.trial_id,
            status="failed" if failures else "complete",
            measurements={name: m.to_dict() for name, m in measurements.items()},
            seconds_merge=seconds_merge,
            seconds_eval=seconds_eval,
            error="; ".join(failures) or None,
            worker=self.worker,
            out_of_memory=any(_is_out_of_memory(m.error or "") for m in measurements.values()),
            cost=cost,
        )
