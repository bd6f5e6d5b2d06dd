"""Plot data: what each campaign plot shows, computed from campaign DataFrames.

Each function takes the DataFrames a :class:`~mmmo.campaign.Campaign` returns
(``trials()``, ``hypervolume_history()``) and returns a small frozen dataclass
holding exactly the numbers a plot draws. Nothing here imports matplotlib, so the
data can be tested, printed or drawn by another backend; :mod:`mmmo.plots.draw`
only draws it.

``trials()`` columns used here: ``trial_id``, ``status``, ``origin``
(``reference``, ``searched``, ``external``), ``label`` (reference label or
missing), ``method``, one column per objective (raw value in the
objective's own direction) and one column per searched parameter
(``weight[all][math]``, ``density[block0][code]``, ...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from mmmo.errors import MmmoError

Direction = Literal["maximize", "minimize"]
ReferenceKind = Literal["base", "source", "recipe"]

# A searched parameter column: ``weight[group][source]`` or ``density[group][source]``.
PARAMETER_COLUMN = re.compile(r"^(weight|density)\[[^\]]+\]\[[^\]]+\]$")

RECIPE_NAMES = {
    "recipe:linear": "uniform average",
    "recipe:task_arithmetic": "task arithmetic",
    "recipe:ties": "TIES",
    "recipe:dare_ties": "DARE-TIES",
}


@dataclass(frozen=True)
class Point:
    """One evaluated trial as a point in objective space.

    Attributes:
        trial_id: The trial's id in the campaign store.
        values: Objective values, raw, in the order of ``FrontData.objectives``.
        on_front: Whether no other complete trial (references included) beats it
            on every objective.
        label: Reference label (``base``, a source name, ``recipe:ties``, ...),
            ``None`` for searched trials.
    """

    trial_id: int
    values: tuple[float, ...]
    on_front: bool
    label: str | None = None

    @property
    def reference_kind(self) -> ReferenceKind | None:
        if self.label is None:
            return None
        if self.label == "base":
            return "base"
        if self.label.startswith("recipe:"):
            return "recipe"
        return "source"

    @property
    def display_label(self) -> str:
        """A short, readable name: ``DARE-TIES`` for ``recipe:dare_ties``."""
        if self.label is None:
            return f"#{self.trial_id}"
        return RECIPE_NAMES.get(self.label, self.label.removeprefix("recipe:"))


@dataclass(frozen=True)
class FrontData:
    """Every complete trial in objective space, the front marked.

    Attributes:
        objectives: Objective names, in campaign order (``m`` of them).
        directions: ``maximize`` / ``minimize`` per objective.
        searched: Every merge that is not a reference: trials of the search
            and trials recorded from outside it (``origin`` other than ``reference``).
        references: Base, sources and standard recipes, evaluated once (``origin`` ``reference``).
    """

    objectives: tuple[str, ...]
    directions: tuple[Direction, ...]
    searched: tuple[Point, ...]
    references: tuple[Point, ...]

    @property
    def front(self) -> tuple[Point, ...]:
        """The Pareto-optimal points, searched and reference alike."""
        return tuple(p for p in self.searched + self.references if p.on_front)

    @property
    def pairs(self) -> tuple[tuple[int, int], ...]:
        """Objective index pairs to draw: one for two objectives, all pairs above."""
        m = len(self.objectives)
        return tuple((i, j) for i in range(m) for j in range(i + 1, m))


@dataclass(frozen=True)
class HypervolumeData:
    """Dominated hypervolume after each finished trial.

    Attributes:
        trials: Number of finished searched trials; ``0`` is the references alone.
        hypervolume: Hypervolume of the front after that many trials.
        reference_hypervolume: Hypervolume of the references alone (base, sources,
            recipes), or ``None`` when the history does not start with them.
        initial: Searched trials of the Sobol initial design at the start.
        examples: Examples scored by the searched trials at each point of
            ``trials`` (empty when the history does not record them).
    """

    trials: tuple[int, ...]
    hypervolume: tuple[float, ...]
    reference_hypervolume: float | None
    initial: int = 0
    examples: tuple[float, ...] = ()


@dataclass(frozen=True)
class ParameterData:
    """Searched parameters of the front members, one row per member.

    Attributes:
        trial_ids: Front members that have parameters (``r`` of them), best on the
            first objective first.
        row_labels: ``#12  0.830 | 0.710`` style labels: id (or reference name) and
            objective values.
        parameters: Parameter names (``c`` of them), as in ``trials()``.
        values: ``r x c`` parameter values; ``nan`` where a member lacks one.
    """

    trial_ids: tuple[int, ...]
    row_labels: tuple[str, ...]
    parameters: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]


def _check_columns(trials: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in trials.columns]
    if missing:
        raise MmmoError(f"trials table lacks columns {missing}; has {list(trials.columns)}")


def _complete(trials: pd.DataFrame, objectives: Sequence[str]) -> pd.DataFrame:
    """Complete trials whose every objective value is a finite number."""
    _check_columns(trials, ["trial_id", "status", *objectives])
    rows = trials[trials["status"] == "complete"]
    values = rows[list(objectives)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    return rows[np.isfinite(values).all(axis=1)]


def _front_mask(values: list[tuple[float, ...]], directions: Sequence[Direction]) -> list[bool]:
    import torch

    from mmmo.search.pareto import pareto_mask, to_maximization

    if not values:
        return []
    Y = to_maximization(torch.tensor(values, dtype=torch.double), directions)  # n x m
    return pareto_mask(Y).tolist()


def front_data(trials: pd.DataFrame, directions: Mapping[str, Direction]) -> FrontData:
    """Points of every complete trial, with the Pareto front over all of them.

    Args:
        trials: ``Campaign.trials()``.
        directions: Objective name -> direction, in campaign order.
    """
    objectives = tuple(directions)
    rows = _complete(trials, objectives)
    values = [tuple(float(v) for v in row) for row in rows[list(objectives)].itertuples(index=False)]
    mask = _front_mask(values, [directions[o] for o in objectives])
    _check_columns(rows, ["label", "origin"])
    searched, references = [], []
    for trial_id, label, origin, vals, on_front in zip(rows["trial_id"], rows["label"], rows["origin"], values, mask):
        is_reference = origin == "reference"
        label = label if is_reference and isinstance(label, str) and label else None
        point = Point(trial_id=int(trial_id), values=vals, on_front=bool(on_front), label=label)
        (references if is_reference else searched).append(point)
    return FrontData(
        objectives=objectives,
        directions=tuple(directions[o] for o in objectives),
        searched=tuple(searched),
        references=tuple(references),
    )


def hypervolume_data(history: pd.DataFrame) -> HypervolumeData:
    """The hypervolume curve from ``Campaign.hypervolume_history()``.

    The history has one row per finished trial, in the order trials finished,
    with ``n_searched`` (searched trials finished so far; references count 0)
    and ``hypervolume``. The curve keeps the last value at each count, so its
    point at 0 is the hypervolume of the reference trials alone.
    """
    _check_columns(history, ["n_searched", "hypervolume"])
    grouped = history.groupby("n_searched", sort=True)
    last = grouped["hypervolume"].last()
    counts = tuple(int(n) for n in last.index)
    volumes = tuple(float(v) for v in last)
    examples = tuple(float(v) for v in grouped["examples"].last()) if "examples" in history.columns else ()
    reference = volumes[0] if counts and counts[0] == 0 else None
    initial = 0
    if "proposer" in history.columns:
        searched = history[history["n_searched"] > 0]["proposer"].tolist()
        while initial < len(searched) and searched[initial] in ("design", "sobol"):
            initial += 1
    return HypervolumeData(
        trials=counts, hypervolume=volumes, reference_hypervolume=reference, initial=initial, examples=examples
    )


def parameter_columns(trials: pd.DataFrame) -> tuple[str, ...]:
    """The searched-parameter columns of a trials table, in table order."""
    return tuple(c for c in trials.columns if PARAMETER_COLUMN.match(str(c)))


def _format_value(value: float) -> str:
    return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"


def parameter_data(
    trials: pd.DataFrame,
    directions: Mapping[str, Direction],
    parameters: Sequence[str] | None = None,
) -> ParameterData:
    """Parameters of the Pareto-front members, references included (their plans' values).

    Args:
        trials: ``Campaign.trials()``.
        directions: Objective name -> direction, in campaign order.
        parameters: Parameter columns to show; all searched ones by default.
    """
    objectives = tuple(directions)
    parameters = tuple(parameters) if parameters is not None else parameter_columns(trials)
    _check_columns(trials, parameters)
    front = {p.trial_id: p for p in front_data(trials, directions).front}
    rows = trials[trials["trial_id"].isin(front)]
    params = rows[list(parameters)].apply(pd.to_numeric, errors="coerce")
    rows = rows[params.notna().any(axis=1)] if parameters else rows.iloc[0:0]
    # Best first on the first objective, so the table reads from one end of the front.
    first = objectives[0]
    rows = rows.sort_values(first, ascending=directions[first] == "minimize", kind="stable")
    trial_ids = tuple(int(t) for t in rows["trial_id"])
    names = [front[t].display_label for t in trial_ids]
    width = max((len(n) for n in names), default=0)
    labels = tuple(
        f"{name:<{width}}  " + " | ".join(_format_value(v) for v in front[t].values)
        for name, t in zip(names, trial_ids)
    )
    values = tuple(
        tuple(float(v) for v in row)
        for row in rows[list(parameters)].apply(pd.to_numeric, errors="coerce").itertuples(index=False)
    )
    return ParameterData(
        trial_ids=trial_ids, row_labels=labels, parameters=parameters, values=values
    )
