"""A campaign's trials as pandas tables: all trials, the front, hypervolume over time, selection.

Pure functions of the stored records, so a notebook reading a running campaign
gets the same tables as the process running it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from mmmo.errors import ConfigError
from mmmo.plan import MergePlan
from mmmo.search.pareto import hypervolume_history, pareto_mask, to_maximization
from mmmo.search.space import SearchSpace
from mmmo.trial import TrialRecord

__all__ = [
    "chebyshev_select",
    "front_table",
    "full_fidelity",
    "hypervolume_table",
    "objective_matrix",
    "objective_noise",
    "trials_table",
]


def objective_matrix(
    records: Sequence[TrialRecord], objectives: Sequence[str], directions: Sequence[str]
) -> torch.Tensor:
    """``n x m`` maximisation-oriented scores (float64); a row is ``nan`` unless the trial is complete."""
    rows = []
    for record in records:
        values = [record.measurements.get(name) for name in objectives]
        ok = record.status == "complete" and all(v is not None and v.ok for v in values)
        rows.append([float(v.value) if ok else math.nan for v in values])
    Y = torch.tensor(rows, dtype=torch.float64).reshape(len(records), len(objectives))
    return to_maximization(Y, directions)


def objective_noise(records: Sequence[TrialRecord], objectives: Sequence[str]) -> torch.Tensor:
    """``n x m`` observation variances of the scores :func:`objective_matrix` gives (float64).

    Each is the squared standard error the objective reported
    (:func:`~mmmo.search.noise.observation_variance`); ``nan`` where a trial is
    not complete or its objective reports none. Variances do not change sign
    with the direction, so they need no orientation.
    """
    from mmmo.search.noise import observation_variance

    rows = []
    for record in records:
        complete = record.status == "complete"
        rows.append([observation_variance(record.measurements.get(name)) if complete else math.nan
                     for name in objectives])
    return torch.tensor(rows, dtype=torch.float64).reshape(len(records), len(objectives))


def full_fidelity(records: Sequence[TrialRecord]) -> list[TrialRecord]:
    """The trials scored on all their examples (fidelity 1, or none recorded)."""
    return [r for r in records if r.fidelity is None or r.fidelity >= 1.0]


def examples_scored(record: TrialRecord) -> float:
    """Examples a finished trial scored: its stored cost, else the examples its measurements report."""
    if record.cost is not None:
        return float(record.cost)
    return float(sum(m.n or 0 for m in record.measurements.values()))


def trials_table(records: Sequence[TrialRecord], space: SearchSpace, objectives: Sequence[str]) -> pd.DataFrame:
    """One row per trial: ids, status, proposer, origin, label, method, parameters, objectives,
    timings, error, seed, worker, fidelity (fraction of examples scored; 1 when not recorded)
    and cost (examples newly scored by the trial, where recorded).

    Parameters are the space's (``SearchSpace.parameter_names``, read from each
    trial's plan), then any other parameter of externally recorded trials
    (``Campaign.record_external``), in the order first seen.
    """
    rows = []
    extra: list[str] = []
    for record in records:
        plan = MergePlan.from_dict(record.plan) if record.plan is not None else None
        params = space.values(plan) if plan is not None else dict.fromkeys(space.parameter_names, math.nan)
        if "method" in params:
            del params["method"]  # the method column names it
        for key, value in (record.params or {}).items():
            if key == "method" or (key in params and plan is not None):
                continue
            if key not in params and key not in extra:
                extra.append(key)
            params[key] = value
        row = {
            "trial_id": record.trial_id,
            "status": record.status,
            "proposer": record.proposer,
            "origin": record.origin,
            "label": record.label,
            "method": plan.method if plan is not None else (record.params or {}).get("method"),
            **params,
        }
        for name in objectives:
            measurement = record.measurements.get(name)
            row[name] = measurement.value if measurement is not None and measurement.value is not None else math.nan
        row.update(
            seconds_merge=record.seconds_merge,
            seconds_eval=record.seconds_eval,
            seconds_propose=record.seconds_propose,
            error=record.error,
            seed=record.seed,
            worker=record.worker,
            fidelity=1.0 if record.fidelity is None else record.fidelity,
            cost=record.cost,
        )
        rows.append(row)
    columns = ["trial_id", "status", "proposer", "origin", "label", "method",
               *[p for p in space.parameter_names if p != "method"], *extra, *objectives,
               "seconds_merge", "seconds_eval", "seconds_propose", "error", "seed", "worker", "fidelity", "cost"]
    return pd.DataFrame(rows, columns=columns)


def front_table(table: pd.DataFrame, Y: torch.Tensor) -> pd.DataFrame:
    """The Pareto-optimal complete rows of ``table`` (``Y``: its ``n x m`` maximised scores), plus ``is_reference``."""
    # A boolean mask, even when empty: an empty list would select columns, not rows.
    mask = pareto_mask(Y).numpy() if len(table) else np.zeros(0, dtype=bool)
    front = table.loc[mask].copy()
    front["is_reference"] = front["origin"] == "reference"
    return front.reset_index(drop=True)


def hypervolume_table(
    records: Sequence[TrialRecord], Y: torch.Tensor, ref_point: torch.Tensor | None
) -> pd.DataFrame:
    """Hypervolume after each finished trial, in the order trials finished.

    Columns: ``trial_id``, ``label``, ``proposer``, ``n_searched`` (trials of
    the search loop finished so far; references and external trials do not
    count), ``examples`` and ``seconds`` (examples scored and seconds of
    merging and scoring by those trials so far), ``hypervolume``.

    The hypervolume is of the full-fidelity trials: a trial scored on part of
    its examples adds its cost, not its estimate, to the front.
    """
    finished = [i for i, r in enumerate(records) if r.finished]
    finished.sort(key=lambda i: (records[i].finished_at or 0.0, records[i].trial_id))
    columns = ["trial_id", "label", "proposer", "n_searched", "examples", "seconds", "hypervolume"]
    if not finished or ref_point is None:
        return pd.DataFrame(columns=columns)
    partial = torch.tensor([not (r.fidelity is None or r.fidelity >= 1.0) for r in records], dtype=torch.bool)
    Y = Y.clone()
    Y[partial] = math.nan
    history = hypervolume_history(Y[finished], ref_point)
    rows, searched, examples, seconds = [], 0, 0.0, 0.0
    for position, i in enumerate(finished):
        record = records[i]
        if record.is_searched:
            searched += 1
            examples += examples_scored(record)
            seconds += (record.seconds_merge or 0.0) + (record.seconds_eval or 0.0)
        rows.append([record.trial_id, record.label, record.proposer, searched, examples, seconds,
                     float(history[position])])
    return pd.DataFrame(rows, columns=columns)


def chebyshev_select(
    front: pd.DataFrame,
    objectives: Sequence[str],
    directions: Sequence[str],
    preference: Mapping[str, float] | Sequence[float],
) -> pd.Series:
    """The front member that best fits ``preference`` by (augmented) Chebyshev scalarisation.

    Each objective is scaled to ``[0, 1]`` over the front (1 = best member);
    the chosen member minimises ``max_j w_j (1 - y_j)`` with ``w`` the
    preference normalised to sum 1, ties broken by the larger weighted sum.

    Raises:
        ConfigError: A preference that names unknown objectives, has the wrong
            length, is negative or all zero.
    """
    if isinstance(preference, Mapping):
        unknown = set(preference) - set(objectives)
        if unknown:
            raise ConfigError(f"preference: unknown objective(s) {sorted(unknown)}; objectives are {list(objectives)}")
        weights = [float(preference.get(name, 0.0)) for name in objectives]
    else:
        weights = [float(w) for w in preference]
        if len(weights) != len(objectives):
            raise ConfigError(f"preference: {len(weights)} weights for {len(objectives)} objectives {list(objectives)}")
    if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise ConfigError(f"preference: weights must be >= 0 and not all zero, got {weights}")
    if front.empty:
        raise ConfigError("preference: the campaign has no complete trial to select from")
    w = torch.tensor(weights, dtype=torch.float64) / sum(weights)
    Y = to_maximization(torch.tensor(front[list(objectives)].to_numpy(dtype=float), dtype=torch.float64), directions)
    low, high = Y.min(dim=0).values, Y.max(dim=0).values
    scaled = (Y - low) / torch.where(high > low, high - low, torch.ones_like(high))  # n x m in [0, 1]
    regret = (w * (1.0 - scaled)).max(dim=-1).values - 1e-6 * (w * scaled).sum(dim=-1)
    return front.iloc[int(regret.argmin())]
