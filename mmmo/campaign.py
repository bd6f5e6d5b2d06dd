"""A campaign: propose, merge, evaluate, store, repeat — and never lose a result.

The one module that knows every stage. A run first evaluates the reference
trials (:mod:`mmmo.references`), then the Sobol initial design
(``budget.initial`` trials), then batches from the configured proposer with
the batch's earlier points pending. Each trial is marked ``running``, merged
into the one live model, scored, and committed ``complete`` or ``failed`` in
one transaction each; a failed trial (merge error, failed objective) is stored
with its error and the loop goes on; a proposer that raises (a GP that
cannot be fitted) gives way to the Sobol design for that batch.

Everything a run needs is read back from the store at every step, so a
campaign killed at any point resumes by opening it again: trials left
``running`` are re-queued, pending ones run, and nothing is proposed twice.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from mmmo.config import CampaignConfig, load_config, parse_config
from mmmo.errors import ConfigError, SourceError, StoreError
from mmmo.objectives.base import Measurement
from mmmo.plan import MergePlan
from mmmo.references import ReferenceTrial, reference_trials
from mmmo.results import chebyshev_select, front_table, hypervolume_table, objective_matrix, trials_table
from mmmo.search.pareto import hypervolume, infer_ref_point
from mmmo.search.proposers import PROPOSERS, make_proposer
from mmmo.search.space import SearchSpace
from mmmo.store import CampaignStore, NewTrial
from mmmo.trial import TrialRecord, TrialReport

__all__ = ["Campaign"]

logger = logging.getLogger(__name__)

Callback = Callable[[TrialReport], None]


@dataclass
class _Engine:
    """The heavy parts, built on first use: the live model and the objectives."""

    merger: Any
    objectives: list | None = None


class Campaign:
    """A multi-objective merge search stored in one SQLite file.

    Use :meth:`create` for a new campaign and :meth:`open` for an existing one.
    """

    def __init__(self, store: CampaignStore) -> None:
        self._store = store
        self.config: CampaignConfig = CampaignConfig.model_validate_json(store.config_json)
        self.space = SearchSpace(self.config.space, self.config.model_names, int(store.get_meta("num_layers")))
        self._engine: _Engine | None = None
        self._proposers: dict[str, Any] = {}

    # -- opening -----------------------------------------------------------

    @classmethod
    def create(cls, path: str | Path, config: CampaignConfig | Mapping | str | Path) -> Campaign:
        """Validate ``config`` against the models and create the campaign file at ``path``."""
        config = _as_config(config)
        for index, model in enumerate(config.models):
            name = model.display_name
            if name == "base" or name.startswith("recipe:"):
                raise ConfigError(f"models.{index}.name: {name!r} is reserved for a reference trial; set another")
            if not model.path.exists():
                raise SourceError(f"models.{index}.path: {model.path} does not exist")
        num_layers = _num_layers(config.base)
        SearchSpace(config.space, config.model_names, num_layers)  # refuse a space that does not fit
        store = CampaignStore.create(path, config.model_dump_json())
        store.set_meta("num_layers", num_layers)
        return cls(store)

    @classmethod
    def open(cls, path: str | Path, readonly: bool = False) -> Campaign:
        """Open an existing campaign; ``readonly`` opens never block and never write."""
        return cls(CampaignStore.open(path, readonly=readonly))

    def close(self) -> None:
        """Release the file (and the writer lock)."""
        self._store.close()

    def __enter__(self) -> Campaign:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def path(self) -> Path:
        return self._store.path

    @property
    def objective_names(self) -> tuple[str, ...]:
        return self.config.objective_names

    @property
    def directions(self) -> tuple[str, ...]:
        """Each objective's direction; lm-eval objectives report theirs when first built."""
        stored = self._store.get_meta("directions")
        if stored is not None:
            return tuple(stored)
        return tuple(spec.resolved_direction or "maximize" for spec in self.config.objectives)

    # -- running -----------------------------------------------------------

    def run(
        self, n_trials: int | None = None, batch_size: int | None = None, callback: Callback | None = None
    ) -> list[TrialReport]:
        """Run until ``budget.trials`` searched trials are finished, or ``n_trials`` more.

        Args:
            n_trials: Searched trials to finish in this call (default: up to the budget).
            batch_size: Points proposed at once (default: ``budget.batch_size``).
            callback: Called with a :class:`TrialReport` after every finished trial.

        Returns:
            The reports of the trials finished in this call.
        """
        if self._store.readonly:
            raise StoreError(f"{self.path}: opened read-only; open it with readonly=False to run it")
        batch_size = batch_size or self.config.budget.batch_size
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        engine = self._build_engine()
        self._store.requeue_running()
        reports: list[TrialReport] = []
        self._run_references(engine, reports, callback)
        searched = [r for r in self._store.trials() if _searched(r)]
        target = self.config.budget.trials
        if n_trials is not None:
            target = sum(r.finished for r in searched) + n_trials
        while True:
            records = self._store.trials()
            searched = [r for r in records if _searched(r)]
            pending = [r for r in searched if r.status == "pending"]
            if not pending:
                if len(searched) >= target:
                    break
                pending = self._propose(records, min(batch_size, target - len(searched)))
            for record in pending:
                reports.append(self._execute(engine, record, callback))
        return reports

    def _run_references(self, engine: _Engine, reports: list, callback: Callback | None) -> None:
        references = reference_trials(self.config.model_names, self.config.recipes, self.config.seed)
        existing = {r.label for r in self._store.trials() if r.is_reference}
        missing = [ref for ref in references if ref.label not in existing]
        self._store.add_trials(
            [
                NewTrial(
                    proposer="reference",
                    seed=ref.plan.seed,
                    x=_as_list(self.space.try_encode(ref.plan)),
                    plan=ref.plan.to_dict(),
                    label=ref.label,
                )
                for ref in missing
            ]
        )
        by_label = {ref.label: ref for ref in references}
        for record in self._store.trials(status="pending"):
            if record.is_reference:
                reports.append(self._execute(engine, record, callback, by_label.get(record.label)))

    def _propose(self, records: list[TrialRecord], n: int) -> list[TrialRecord]:
        searched = [r for r in records if _searched(r)]
        name = self.config.proposer
        initial = self.config.budget.initial
        if len(searched) < initial:
            name, n = "sobol", min(n, initial - len(searched))
        known = [r for r in records if r.x is not None and r.finished]
        X = torch.tensor([r.x for r in known], dtype=torch.float64).reshape(len(known), self.space.dim)
        Y = objective_matrix(known, self.objective_names, self.directions)
        if name not in ("sobol", "random") and int(torch.isfinite(Y).all(dim=-1).sum()) < 2:
            name = "sobol"  # nothing to model yet
        active = [r for r in records if r.x is not None and r.status in ("pending", "running")]
        pending = torch.tensor([r.x for r in active], dtype=torch.float64).reshape(len(active), self.space.dim)
        start = time.perf_counter()
        try:
            candidates = self._proposer(name).propose(X, Y, pending, n, self.reference_point())  # n x d
        except Exception as exc:  # noqa: BLE001 - a model that cannot be fitted must not end a long campaign
            if name in ("sobol", "random"):
                raise
            # A GP fit or acquisition optimisation can fail on a history it
            # finds degenerate (a non-PSD covariance, say). The batch then comes
            # from the Sobol design, stored as such, and the next round tries
            # the model again on a history that has grown.
            logger.warning("%s could not propose a batch (%s: %s); this batch is Sobol points",
                           name, type(exc).__name__, exc)
            name = "sobol"
            candidates = self._proposer(name).propose(X, Y, pending, n)
        seconds = (time.perf_counter() - start) / n
        first_index = len(records)
        new = []
        for i, x in enumerate(candidates):
            seed = (self.config.seed * 1_000_003 + first_index + i) % (2**31)
            plan = self.space.decode(x, seed=seed)
            new.append(NewTrial(proposer=name, seed=seed, x=x.tolist(), plan=plan.to_dict(), seconds_propose=seconds))
        ids = self._store.add_trials(new)
        return [self._store.trial(i) for i in ids]

    def _proposer(self, name: str) -> Any:
        """The campaign's proposer ``name``, one instance per run (its GP hyperparameter cache lives in it)."""
        if name not in self._proposers:
            self._proposers[name] = make_proposer(name, seed=self.config.seed)
        return self._proposers[name]

    def _execute(
        self, engine: _Engine, record: TrialRecord, callback: Callback | None, reference: ReferenceTrial | None = None
    ) -> TrialReport:
        self._store.mark_running(record.trial_id)
        seconds_merge = seconds_eval = None
        measurements: dict[str, Measurement] = {}
        try:
            start = time.perf_counter()
            if reference is not None and reference.kind == "base":
                engine.merger.apply_base()
            elif reference is not None and reference.kind == "source":
                engine.merger.apply_source(reference.source)
            else:
                engine.merger.apply(MergePlan.from_dict(record.plan))
            seconds_merge = time.perf_counter() - start
        except Exception as exc:  # noqa: BLE001 - a plan that cannot be merged is a failed trial
            error = f"merge: {type(exc).__name__}: {exc}"
        else:
            from mmmo.objectives import evaluate_objectives

            start = time.perf_counter()
            measurements = evaluate_objectives(engine.objectives, engine.merger.model, engine.merger.tokenizer)
            seconds_eval = time.perf_counter() - start
            failures = [f"{name}: {m.error or f'value {m.value!r}'}" for name, m in measurements.items() if not m.ok]
            error = "; ".join(failures) or None
        self._store.finish(record.trial_id, measurements, seconds_merge, seconds_eval, error)
        report = self._report(record.trial_id)
        if callback is not None:
            callback(report)
        return report

    def _report(self, trial_id: int) -> TrialReport:
        records = self._store.trials()
        record = next(r for r in records if r.trial_id == trial_id)
        ref = self.reference_point(records)
        Y = objective_matrix(records, self.objective_names, self.directions)
        return TrialReport(
            trial_id=trial_id,
            status=record.status,
            label=record.label,
            values={n: (m.value if (m := record.measurements.get(n)) else None) for n in self.objective_names},
            hypervolume=None if ref is None else hypervolume(Y, ref),
            done=sum(r.finished and _searched(r) for r in records),
            total=self.config.budget.trials,
            error=record.error,
        )

    def _build_engine(self, with_objectives: bool = True) -> _Engine:
        if self._engine is None:
            from mmmo.merge import Merger
            from mmmo.sources import ModelPool

            dtype = getattr(torch, self.config.dtype)
            device = self.config.device
            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            sources = {m.display_name: m.path for m in self.config.models}
            pool = ModelPool.load(self.config.base, sources, dtype=dtype, storage=self.config.storage)
            # The tensors are known only now: refuse a granularity whose groups are empty.
            SearchSpace(self.config.space, pool.names, pool.num_layers, tensor_names=pool.tensor_names)
            self._engine = _Engine(Merger(pool, device=device))
        if with_objectives and self._engine.objectives is None:
            from mmmo.objectives import build_objectives

            merger = self._engine.merger
            objectives = build_objectives(self.config.objectives, merger.tokenizer, merger.pool.base_state)
            directions = [o.direction for o in objectives]
            if self._store.get_meta("directions") != directions:
                self._store.set_meta("directions", directions)
            self._engine.objectives = objectives
        return self._engine

    # -- results -----------------------------------------------------------

    def reference_point(self, records: Sequence[TrialRecord] | None = None) -> torch.Tensor | None:
        """The hypervolume reference point (``m``, maximisation-oriented).

        Objectives named in ``config.reference_point`` take that value (given in
        the objective's own direction); the others are inferred from the base
        and source trials (:func:`~mmmo.search.pareto.infer_ref_point`), or from
        all complete trials while those are missing. ``None`` before any trial completes.
        """
        records = self._store.trials() if records is None else records
        Y = objective_matrix(records, self.objective_names, self.directions)
        anchors = [i for i, r in enumerate(records) if r.is_reference and not (r.label or "").startswith("recipe:")]
        inferred = None
        for rows in (anchors, list(range(len(records)))):
            if rows and torch.isfinite(Y[rows]).all(dim=-1).any():
                inferred = infer_ref_point(Y[rows])
                break
        given = self.config.reference_point or {}
        if inferred is None and len(given) < len(self.objective_names):
            return None
        point = inferred if inferred is not None else torch.zeros(len(self.objective_names), dtype=torch.float64)
        for j, (name, direction) in enumerate(zip(self.objective_names, self.directions)):
            if name in given:
                point[j] = -given[name] if direction == "minimize" else given[name]
        return point

    def trials(self) -> pd.DataFrame:
        """Every trial, one row each (see the module docs of :mod:`mmmo.results`)."""
        return trials_table(self._store.trials(), self.space, self.objective_names)

    def front(self) -> pd.DataFrame:
        """The Pareto-optimal complete trials, references included, with ``is_reference``."""
        records = self._store.trials()
        Y = objective_matrix(records, self.objective_names, self.directions)
        return front_table(trials_table(records, self.space, self.objective_names), Y)

    def hypervolume_history(self) -> pd.DataFrame:
        """Hypervolume after each finished trial (columns in :func:`mmmo.results.hypervolume_table`)."""
        records = self._store.trials()
        Y = objective_matrix(records, self.objective_names, self.directions)
        return hypervolume_table(records, Y, self.reference_point(records))

    def select(self, preference: Mapping[str, float] | Sequence[float]) -> pd.Series:
        """The front member that best fits a preference over the objectives (Chebyshev)."""
        return chebyshev_select(self.front(), self.objective_names, self.directions, preference)

    def export(self, trial_id: int, out_dir: str | Path) -> Path:
        """Write trial ``trial_id``'s merge as an HF checkpoint in ``out_dir``."""
        record = self._store.trial(trial_id)
        if record.plan is None:
            raise StoreError(f"{self.path}: trial {trial_id} has no merge plan to export")
        return self._build_engine(with_objectives=False).merger.export(MergePlan.from_dict(record.plan), out_dir)

    def record_external(
        self,
        params: Mapping[str, Any],
        measurements: Mapping[str, Measurement],
        proposer: str,
        plan: MergePlan | None = None,
    ) -> int:
        """Store a trial evaluated outside the search loop; returns its id.

        It does not count against ``budget.trials`` (only the loop's own trials do).

        ``params`` are kept as given (JSON); ``plan`` (when given) is stored and
        encoded into the space where it is a point of it, so the proposers learn
        from it. An objective missing from ``measurements`` makes the trial failed.
        """
        if proposer == "reference" or proposer in PROPOSERS:
            raise ConfigError(f"proposer: {proposer!r} is reserved for trials of the campaign's own loop")
        full = {name: measurements.get(name, Measurement.failure("not measured")) for name in self.objective_names}
        failures = [f"{name}: {m.error or f'value {m.value!r}'}" for name, m in full.items() if not m.ok]
        trial = NewTrial(
            proposer=proposer,
            seed=plan.seed if plan is not None else 0,
            x=_as_list(self.space.try_encode(plan)) if plan is not None else None,
            plan=plan.to_dict() if plan is not None else None,
            params=json.loads(json.dumps(dict(params), default=float)),
        )
        return self._store.insert_finished(trial, full, "; ".join(failures) or None)


def _searched(record: TrialRecord) -> bool:
    """Whether a trial is one of the loop's own (counted against the budget)."""
    return record.proposer in PROPOSERS


def _as_config(config: CampaignConfig | Mapping | str | Path) -> CampaignConfig:
    if isinstance(config, CampaignConfig):
        return config
    if isinstance(config, (str, Path)):
        return load_config(config)
    return parse_config(dict(config))


def _num_layers(base: Path) -> int:
    from transformers import AutoConfig

    try:
        hf_config = AutoConfig.from_pretrained(base, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise SourceError(f"base: cannot read an HF config from {base}: {exc}") from None
    layers = getattr(hf_config, "num_hidden_layers", None)
    if layers is None:
        raise SourceError(f"base: the HF config in {base} has no num_hidden_layers")
    return int(layers)


def _as_list(x: torch.Tensor | None) -> list[float] | None:
    return None if x is None else x.tolist()
