"""A campaign: propose, merge, evaluate, store, repeat — and never lose a result.

The one module that knows every stage. A run first queues the reference
trials (:mod:`mmmo.references`; plans like any other), then keeps every
worker of its executor (:mod:`mmmo.evaluation`) busy: whenever a worker is
free and no trial waits, the proposer is asked for new points with every
trial in flight as a pending point (``X_pending``) — the Sobol design for the
first ``budget.initial`` searched trials, then the configured proposer. On
remote workers one point is kept proposed ahead, so a worker that frees
starts at once. Proposing runs in a thread of its own, so outcomes are stored
and queued trials dispatched while a slow proposal is computed. A proposer that raises
(a GP that cannot be fitted) gives way to the Sobol design for that batch.

Each trial is marked ``running`` when sent to a worker and committed
``complete`` or ``failed`` in one transaction when its outcome comes back; a
failed trial (merge error, failed objective, out of memory) is stored with
its error and the loop goes on. A trial whose worker died is re-queued and
run again (the same row), up to :data:`MAX_ATTEMPTS` times. The campaign
process is the store's only writer.

Everything a run needs is read back from the store, so a campaign killed at
any point resumes by opening it again: trials left ``running`` are
re-queued, pending ones run, and nothing is proposed twice.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from mmmo.config import CampaignConfig, load_config, parse_config
from mmmo.errors import ConfigError, StoreError
from mmmo.evaluation import Executor, TrialEvaluator, TrialOutcome, TrialRequest, make_executor
from mmmo.fidelity.budget import budget_spent, check_budget, counts_examples, example_counts
from mmmo.fidelity.rounds import FidelityRounds, fidelity_history, promotion_prior
from mmmo.model_refs import with_local_models
from mmmo.objectives.base import Measurement
from mmmo.plan import MergePlan
from mmmo.quiet import quiet_libraries
from mmmo.references import reference_trials
from mmmo.results import (
    chebyshev_select,
    front_table,
    full_fidelity,
    hypervolume_table,
    objective_matrix,
    objective_noise,
    trials_table,
)
from mmmo.search.proposers.design import design_size, subset_merges
from mmmo.search.pareto import hypervolume, infer_ref_point
from mmmo.search.proposers import PROPOSERS, check_dimension, make_proposer
from mmmo.search.proposers.base import accepts_noise
from mmmo.search.space import SearchSpace
from mmmo.sources.checkpoint import checkpoint_dtype
from mmmo.sources.layout import layout_of_checkpoint
from mmmo.store import CampaignStore, NewTrial
from mmmo.trial import TrialRecord, TrialReport, searched_seed

__all__ = ["Campaign"]

logger = logging.getLogger(__name__)

#: Proposers that model nothing: they need no reference point and no two observations.
MODEL_FREE = frozenset({"design", "sobol", "random"})

Callback = Callable[[TrialReport], None]

# Times a trial is started before a worker that keeps dying while running it
# makes it a failed trial (a plan that crashes its worker must not loop forever).
MAX_ATTEMPTS = 3
# Seconds between looks at a running proposal while trials are in flight.
_POLL_SECONDS = 0.02


class Campaign:
    """A multi-objective merge search stored in one SQLite file.

    Use :meth:`create` for a new campaign and :meth:`open` for an existing one.
    """

    def __init__(self, store: CampaignStore, accept_changed_models: bool = False) -> None:
        self._store = store
        self.config: CampaignConfig = CampaignConfig.model_validate_json(store.config_json)
        num_layers = store.get_meta("num_layers")
        if num_layers is None:
            raise StoreError(f"{store.path}: the campaign file lacks its 'num_layers' record; it is damaged")
        self.space = SearchSpace(self.config.space, self.config.model_names, int(num_layers))
        self.accept_changed_models = accept_changed_models
        self._engine: TrialEvaluator | None = None
        self._proposers: dict[str, Any] = {}
        self._example_counts: dict[str, int] = {}

    # -- opening -----------------------------------------------------------

    @classmethod
    def create(cls, path: str | Path, config: CampaignConfig | Mapping | str | Path) -> Campaign:
        """Validate ``config`` against the models and create the campaign file at ``path``.

        Every check that needs no full weights (model folders and safetensors
        headers, data files, callables, device, extras) runs first; the file is
        then created atomically, so a refused config leaves nothing behind.
        """
        config = _as_config(config)
        path = Path(path)
        if path.exists() or path.is_symlink():
            raise StoreError(f"{path}: a campaign file already exists; open it instead of creating it")
        for index, model in enumerate(config.models):
            name = model.display_name
            if name == "base" or name.startswith("recipe:"):
                raise ConfigError(f"models.{index}.name: {name!r} is reserved for a reference trial; set another")
        from mmmo.preflight import preflight

        # Local folders or hub ids, fetched now: a model that cannot be had is refused before any trial.
        local = with_local_models(config)
        preflight(local)
        layout = layout_of_checkpoint(local.base, trust_remote_code=config.trust_remote_code)
        if config.dtype == "auto":
            checkpoint_dtype(local.base)  # refuse a checkpoint dtype mmmo cannot merge in, before any work
        space = SearchSpace(config.space, config.model_names, layout=layout)  # refuse a space that does not fit
        check_dimension(config.proposer, space.dim, space.describe())
        check_budget(config)  # a cost budget must pay for one full evaluation
        meta = {
            "num_layers": layout.num_layers,
            "fingerprints": _fingerprints(local),
            # Data subsets are drawn with the campaign's seed; a file without this entry
            # was created when they were drawn with 0, and keeps scoring those examples.
            "data_seed": config.seed,
        }
        return cls(CampaignStore.create(path, config.model_dump_json(), meta=meta))

    @classmethod
    def open(cls, path: str | Path, readonly: bool = False, accept_changed_models: bool = False) -> Campaign:
        """Open an existing campaign; ``readonly`` opens never block and never write.

        Before its models load (a run, an export), a campaign whose base or
        source folders changed since creation is refused, naming them, unless
        ``accept_changed_models`` (a writer then records the new fingerprints).
        """
        return cls(CampaignStore.open(path, readonly=readonly), accept_changed_models=accept_changed_models)

    def check_models(self) -> None:
        """Refuse models that changed since creation (see :meth:`open`); warn when accepted."""
        from mmmo.fingerprints import ModelChangedError, changed_models

        stored = self._store.get_meta("fingerprints")
        if stored is None:  # a campaign from before fingerprints were kept
            return
        current = _fingerprints(with_local_models(self.config))
        changes = changed_models(stored, current)
        if not changes:
            return
        if not self.accept_changed_models:
            raise ModelChangedError(
                f"{self.path}: models changed since the campaign was created, so new results would not "
                "be comparable with the stored ones:\n" + "\n".join(changes)
                + "\npass --accept-changed-models (accept_changed_models=True) to go on anyway"
            )
        logger.warning("%s: going on with changed models: %s", self.path, "; ".join(changes))
        if not self._store.readonly:
            self._store.set_meta("fingerprints", current)

    def requeue_running(self) -> list[int]:
        """Put trials left ``running`` back to ``pending`` (after an interrupt); returns their ids."""
        if self._store.readonly:
            return []
        return self._store.requeue_running()

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
        """The searched objectives: what the proposer, the front and the hypervolume see."""
        return tuple(spec.resolved_name for spec in self.config.searched_objectives)

    @property
    def reported_names(self) -> tuple[str, ...]:
        """The ``report_only`` objectives: scored and shown in the tables, never searched on."""
        return tuple(spec.resolved_name for spec in self.config.reported_objectives)

    @property
    def directions(self) -> tuple[str, ...]:
        """Each searched objective's direction; lm-eval objectives report theirs when first built."""
        stored = self._store.get_meta("directions")  # every objective's, in config order
        if stored is not None and len(stored) == len(self.config.objectives):
            return tuple(d for d, spec in zip(stored, self.config.objectives) if not spec.report_only)
        return tuple(spec.resolved_direction or "maximize" for spec in self.config.searched_objectives)

    # -- running -----------------------------------------------------------

    def run(
        self, n_trials: int | None = None, batch_size: int | None = None, callback: Callback | None = None
    ) -> list[TrialReport]:
        """Run until ``budget.trials`` searched trials are finished, or ``n_trials`` more.

        The libraries a trial calls keep their progress bars to themselves and
        show each warning once (:func:`mmmo.quiet.quiet_libraries`).

        Args:
            n_trials: Searched trials to finish in this call (default: up to the budget).
            batch_size: Points proposed at once (default: ``budget.batch_size``; at
                least one per free worker).
            callback: Called with a :class:`TrialReport` after every finished trial.

        Returns:
            The reports of the trials finished in this call.
        """
        with quiet_libraries():
            return self._run(n_trials, batch_size, callback)

    def _run(self, n_trials: int | None, batch_size: int | None, callback: Callback | None) -> list[TrialReport]:
        if self._store.readonly:
            raise StoreError(f"{self.path}: opened read-only; open it with readonly=False to run it")
        batch_size = batch_size or self.config.budget.batch_size
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        check_budget(self.config)  # before any trial runs
        self._example_counts = example_counts(self.config) if counts_examples(self.config) else {}
        executor = make_executor(self.config, self._local_evaluator, data_seed=self._data_seed())
        try:
            directions = list(executor.start())
            if self._store.get_meta("directions") != directions:
                self._store.set_meta("directions", directions)
            self._store.requeue_running()
            self._add_references()
            target = self.config.budget.trials
            if n_trials is not None:
                target = sum(r.finished for r in self._store.trials() if r.is_searched) + n_trials
            return self._drive(executor, target, batch_size, callback)
        finally:
            executor.close()

    def _drive(self, executor: Executor, target: int, batch_size: int, callback: Callback | None) -> list[TrialReport]:
        """Keep every worker busy until ``target`` searched trials exist and none is in flight."""
        reports: list[TrialReport] = []
        in_flight: set[int] = set()
        # Points proposed ahead while every worker is busy, so a worker that
        # frees starts its next trial at once (the executor says how many).
        lookahead = executor.lookahead
        proposal: Future | None = None
        records: list[TrialRecord] | None = None  # read again only after a change
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmmo-propose") as proposing:
            while True:
                if records is None:
                    records = self._store.trials()
                queued = [r for r in records if r.status == "pending"]
                if queued and executor.free() > 0:
                    while queued and executor.free() > 0:
                        record = queued.pop(0)
                        request = TrialRequest(record.trial_id, dict(record.plan or {}), record.fidelity,
                                               promotion_prior(record, records))
                        self._store.mark_running(record.trial_id, executor.submit(request))
                        in_flight.add(record.trial_id)
                    records = self._store.trials()
                searched = sum(r.is_searched for r in records)
                wanted = executor.free() + lookahead - len(queued)
                spent_all = budget_spent(self.config.budget, records, self._example_counts)
                if proposal is None and wanted > 0 and searched < target and not spent_all:
                    n = min(max(batch_size, wanted), target - searched)
                    proposal = proposing.submit(*self._proposal_job(records, n))
                if proposal is not None and proposal.done():
                    self._store.add_trials(proposal.result())
                    proposal, records = None, None
                    continue
                if not in_flight and proposal is None:
                    return reports
                if not in_flight:
                    wait_for_futures([proposal])
                    continue
                if proposal is not None:  # look at both: the proposal's points go out as soon as they exist
                    wait_for_futures([proposal], timeout=_POLL_SECONDS)
                for outcome in executor.wait(0.0 if proposal is not None else None):
                    records = None
                    in_flight.discard(outcome.trial_id)
                    report = self._store_outcome(outcome)
                    if report is not None:
                        reports.append(report)
                        if callback is not None:
                            callback(report)

    def _store_outcome(self, outcome: TrialOutcome) -> TrialReport | None:
        """Commit an outcome; a lost one re-queues its trial (``None`` then: nothing finished)."""
        if outcome.status == "lost":
            attempts = self._store.trial(outcome.trial_id).attempts
            if attempts < MAX_ATTEMPTS:
                logger.warning("trial %d runs again: %s", outcome.trial_id, outcome.error)
                self._store.requeue(outcome.trial_id)
                return None
            error = f"its worker died on each of {attempts} attempts; last: {outcome.error}"
            self._store.finish(outcome.trial_id, {}, None, None, error, worker=outcome.worker)
        else:
            self._store.finish(
                outcome.trial_id,
                outcome.measurement_objects(),
                outcome.seconds_merge,
                outcome.seconds_eval,
                outcome.error,
                worker=outcome.worker,
                cost=outcome.cost,
            )
        return self._report(outcome.trial_id)

    def _add_references(self) -> None:
        """Queue the reference trials not yet in the store (base, each source, the recipes)."""
        references = reference_trials(self.config.model_names, self.config.recipes, self.config.seed)
        existing = {r.label for r in self._store.trials() if r.is_reference}
        self._store.add_trials(
            [
                NewTrial(
                    proposer="reference",
                    seed=ref.plan.seed,
                    x=_as_list(self.space.try_encode(ref.plan)),
                    plan=ref.plan.to_dict(),
                    label=ref.label,
                    origin="reference",
                    # Scored through the fidelity path too, so their per-example scores are kept alike.
                    fidelity=1.0 if self.config.fidelity is not None else None,
                )
                for ref in references
                if ref.label not in existing
            ]
        )

    def _proposal_job(self, records: list[TrialRecord], n: int) -> tuple:
        """The function the proposal thread runs, with its inputs read here."""
        if self.config.fidelity is None:
            return (self._propose, *self._proposal_inputs(records, n))
        if "multi_fidelity" not in self._proposers:
            self._proposers["multi_fidelity"] = FidelityRounds(self.config, self.space)
        history = fidelity_history(records, self.space.dim, self.objective_names, self.directions)
        model_based = history.candidates >= self.config.budget.initial
        ref_point = self.reference_point(records) if model_based else None
        return self._proposers["multi_fidelity"].propose, history, n, ref_point, model_based, len(records)

    def _proposal_inputs(self, records: list[TrialRecord], n: int) -> tuple:
        """What :meth:`_propose` needs, read here (the store is this thread's alone)."""
        searched = [r for r in records if r.is_searched]
        name = self.config.proposer
        # References that are points of the space are observations the design need not repeat.
        placed = sum(1 for r in records if r.is_reference and r.x is not None and r.status != "failed")
        initial = design_size(self.config.budget.initial, placed, planned=1 + len(self._design_anchors))
        if len(searched) < initial:
            name, n = "design", min(n, initial - len(searched))
        known = [r for r in records if r.x is not None and r.finished]
        X = torch.tensor([r.x for r in known], dtype=torch.float64).reshape(len(known), self.space.dim)
        Y = objective_matrix(known, self.objective_names, self.directions)
        Yvar = objective_noise(known, self.objective_names)
        if name not in MODEL_FREE and int(torch.isfinite(Y).all(dim=-1).sum()) < 2:
            name = "design"  # nothing to model yet
        active = [r for r in records if r.x is not None and r.status in ("pending", "running")]
        pending = torch.tensor([r.x for r in active], dtype=torch.float64).reshape(len(active), self.space.dim)
        ref_point = self.reference_point(records) if name not in MODEL_FREE else None
        return name, X, Y, pending, n, ref_point, len(records), Yvar

    def _propose(
        self, name: str, X: torch.Tensor, Y: torch.Tensor, pending: torch.Tensor, n: int,
        ref_point: torch.Tensor | None, first_index: int, Yvar: torch.Tensor | None = None,
    ) -> list[NewTrial]:
        """``n`` new searched trials from proposer ``name`` (runs in the proposal thread)."""
        start = time.perf_counter()
        try:
            proposer = self._proposer(name)
            # Each score's squared standard error goes to proposers that model noise.
            noise = {"Yvar": Yvar} if Yvar is not None and accepts_noise(proposer) else {}
            candidates = proposer.propose(X, Y, pending, n, ref_point, **noise)  # n x d
        except Exception as exc:  # noqa: BLE001 - a model that cannot be fitted must not end a long campaign
            if name in MODEL_FREE:
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
        new = []
        for i, x in enumerate(candidates):
            seed = searched_seed(self.config.seed, first_index + i)
            plan = self.space.decode(x, seed=seed)
            new.append(NewTrial(proposer=name, seed=seed, x=x.tolist(), plan=plan.to_dict(),
                                seconds_propose=seconds, origin="searched"))
        return new

    @functools.cached_property
    def _design_anchors(self) -> torch.Tensor:
        """The initial design's points after the centre: the sources' subset merges in this space."""
        return subset_merges(self.space)

    def _proposer(self, name: str) -> Any:
        """The campaign's proposer ``name``, one instance per run (its GP hyperparameter cache lives in it)."""
        if name not in self._proposers:
            # The design's anchors are the merges a practitioner tries first (the sources' subsets).
            options = {"anchors": self._design_anchors} if name == "design" else {}
            self._proposers[name] = make_proposer(
                name, seed=self.config.seed, categorical=self.space.categorical, ties=self.space.coarse_ties, **options
            )
        return self._proposers[name]

    def _report(self, trial_id: int) -> TrialReport:
        records = self._store.trials()
        record = next(r for r in records if r.trial_id == trial_id)
        ref = self.reference_point(records)
        Y = objective_matrix(full_fidelity(records), self.objective_names, self.directions)
        return TrialReport(
            trial_id=trial_id,
            status=record.status,
            label=record.label,
            values={n: (m.value if (m := record.measurements.get(n)) else None) for n in self.objective_names},
            hypervolume=None if ref is None else hypervolume(Y, ref),
            done=sum(r.finished and r.is_searched for r in records),
            total=self.config.budget.trials,
            error=record.error,
            worker=record.worker,
        )

    def _local_evaluator(self, fresh: bool = False) -> TrialEvaluator:
        """The evaluator of this process (the inline executor's worker); ``fresh`` builds a new one."""
        if fresh:
            self._engine = None  # dropped before the new one loads, so two live models never coexist
        return self._build_engine()

    def _build_engine(self, with_objectives: bool = True) -> TrialEvaluator:
        if self._engine is None:
            self.check_models()  # the fingerprints kept in this campaign's file
            self._engine = TrialEvaluator(
                self.config, worker="inline", with_objectives=with_objectives, data_seed=self._data_seed()
            )
        elif with_objectives:
            self._engine.objectives  # noqa: B018 - built on first need
        return self._engine

    def _data_seed(self) -> int:
        seed = self._store.get_meta("data_seed")
        return 0 if seed is None else int(seed)

    @property
    def data_seed(self) -> int:
        """Seed of the data subsets its objectives score (``limit``): rebuild them with it to rescore a trial."""
        return self._data_seed()

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
        return trials_table(self._store.trials(), self.space, self.objective_names + self.reported_names)

    def front(self, all_fidelities: bool = False) -> pd.DataFrame:
        """The Pareto-optimal complete trials, references included, with ``is_reference``.

        Pareto-optimal on the searched objectives; the report-only ones are
        columns beside them. Only trials scored on all their examples take
        part, unless ``all_fidelities`` (then a screening estimate can stand
        on the front; the ``fidelity`` column says which).
        """
        records = self._store.trials()
        if not all_fidelities:
            records = full_fidelity(records)
        Y = objective_matrix(records, self.objective_names, self.directions)
        return front_table(trials_table(records, self.space, self.objective_names + self.reported_names), Y)

    def hypervolume_history(self) -> pd.DataFrame:
        """Hypervolume after each finished trial (columns in :func:`mmmo.results.hypervolume_table`)."""
        records = self._store.trials()
        Y = objective_matrix(records, self.objective_names, self.directions)
        return hypervolume_table(records, Y, self.reference_point(records))

    def select(self, preference: Mapping[str, float] | Sequence[float]) -> pd.Series:
        """The front member that best fits a preference over the objectives (Chebyshev)."""
        return chebyshev_select(self.front(), self.objective_names, self.directions, preference)

    def export(self, trial_id: int, out_dir: str | Path, overwrite: bool = False) -> Path:
        """Write trial ``trial_id``'s merge as an HF checkpoint in ``out_dir``.

        ``out_dir`` must not exist, or be empty, unless ``overwrite``; a folder
        holding one of the campaign's models is refused always. The checkpoint
        is written beside ``out_dir`` and renamed into place when complete.
        """
        from mmmo.merge.export import check_export_target, export_plan

        record = self._store.trial(trial_id)
        if record.plan is None:
            raise StoreError(f"{self.path}: trial {trial_id} has no merge plan to export")
        local = with_local_models(self.config)
        models = [local.base, *(m.path for m in local.models)]
        check_export_target(Path(out_dir), models, overwrite)  # before the models load
        merger = self._build_engine(with_objectives=False).merger
        return export_plan(merger, MergePlan.from_dict(record.plan), Path(out_dir), overwrite=overwrite)

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
            origin="external",
        )
        return self._store.insert_finished(trial, full, "; ".join(failures) or None)


def _as_config(config: CampaignConfig | Mapping | str | Path) -> CampaignConfig:
    if isinstance(config, CampaignConfig):
        return config
    if isinstance(config, (str, Path)):
        return load_config(config)
    return parse_config(dict(config))


def _fingerprints(local: CampaignConfig) -> dict[str, Any]:
    """Fingerprints of the models of ``local`` (a config with hub ids resolved, see ``with_local_models``)."""
    from mmmo.fingerprints import fingerprint_models

    return fingerprint_models(local.base, {m.display_name: m.path for m in local.models})


def _as_list(x: torch.Tensor | None) -> list[float] | None:
    return None if x is None else x.tolist()
