"""Drawing of the campaign plots with matplotlib; the numbers come from :mod:`mmmo.plots.data`.

Figures are built with the object-oriented API (``matplotlib.figure.Figure``),
never through ``pyplot``, so drawing works without a display, does not touch
the global backend a notebook or application has chosen, and leaks no figures.
matplotlib is imported inside the functions so ``import mmmo`` stays fast.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

from mmmo.plots.data import FrontData, HypervolumeData, ParameterData, Point

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_SEARCHED = "#9aa5b1"
_FRONT = "#1f77b4"
_BASE = "#222222"
_SOURCE = "#d62728"
_RECIPE = "#2ca02c"
_RECIPE_MARKERS = ("D", "P", "X", "h", "v", "<", ">")


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def _axis_label(name: str, direction: str) -> str:
    return f"{name} ({'higher' if direction == 'maximize' else 'lower'} is better)"


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _draw_pair(ax: Axes, data: FrontData, i: int, j: int, step_line: bool) -> None:
    """One panel: objective ``i`` on x, objective ``j`` on y."""
    dominated = [p for p in data.searched if not p.on_front]
    front = [p for p in data.searched if p.on_front]
    if dominated:
        ax.scatter([p.values[i] for p in dominated], [p.values[j] for p in dominated],
                   s=18, color=_SEARCHED, alpha=0.7, label="searched", zorder=2)
    if front:
        ax.scatter([p.values[i] for p in front], [p.values[j] for p in front],
                   s=36, color=_FRONT, label="searched, on the front", zorder=4)
    if step_line:
        # The staircase that bounds the dominated region, through every front point.
        line = sorted(data.front, key=lambda p: p.values[i])
        if len(line) > 1:
            # Between two front points the best y still reachable is that of the
            # point further along x's better direction.
            where = "pre" if data.directions[i] == "maximize" else "post"
            ax.step([p.values[i] for p in line], [p.values[j] for p in line],
                    where=where, color=_FRONT, lw=1, alpha=0.6, zorder=3)
    recipes = [p for p in data.references if p.reference_kind == "recipe"]
    for p in data.references:
        kind = p.reference_kind
        if kind == "base":
            style = {"marker": "s", "color": _BASE, "s": 60}
        elif kind == "source":
            style = {"marker": "^", "color": _SOURCE, "s": 70}
        else:
            marker = _RECIPE_MARKERS[recipes.index(p) % len(_RECIPE_MARKERS)]
            style = {"marker": marker, "color": _RECIPE, "s": 60}
        ax.scatter([p.values[i]], [p.values[j]], zorder=5, edgecolors="white", linewidths=0.6, **style)
    for x, y, text, color, lift in label_groups(data, i, j):
        leader = {"arrowstyle": "-", "lw": 0.5, "color": color, "shrinkA": 0} if lift else None
        ax.annotate(text, (x, y), xytext=(5, 4 + lift), textcoords="offset points", fontsize=8,
                    color=color, zorder=6, arrowprops=leader)
    on_front = data.front
    if on_front:
        ax.scatter([p.values[i] for p in on_front], [p.values[j] for p in on_front], s=110,
                   facecolors="none", edgecolors=_BASE, linewidths=0.8, zorder=6)
    ax.set_xlabel(_axis_label(data.objectives[i], data.directions[i]), fontsize=9)
    ax.set_ylabel(_axis_label(data.objectives[j], data.directions[j]), fontsize=9)
    ax.grid(True, alpha=0.3)


def label_groups(
    data: FrontData, i: int, j: int, tolerance: float = 0.04
) -> list[tuple[float, float, str, str, float]]:
    """One label per cluster of references in the ``(i, j)`` panel.

    References closer than ``tolerance`` (a fraction of the panel's range on both
    axes) share one label, ``"base, uniform average, TIES"``; a label that would
    print over an earlier one is lifted a line. Returns ``(x, y, text, color,
    lift)`` with ``lift`` in points.
    """
    points = data.searched + data.references
    if not points:
        return []
    span = [
        (max(p.values[k] for p in points) - min(p.values[k] for p in points)) or 1.0 for k in (i, j)
    ]

    def near(a: Point, b: Point, x_reach: float, y_reach: float) -> bool:
        return (abs(a.values[i] - b.values[i]) <= x_reach * span[0]
                and abs(a.values[j] - b.values[j]) <= y_reach * span[1])

    groups: list[list[Point]] = []
    for p in data.references:
        group = next((g for g in groups if near(p, g[0], tolerance, tolerance)), None)
        if group is None:
            groups.append([p])
        else:
            group.append(p)
    colors = {"base": _BASE, "source": _SOURCE, "recipe": _RECIPE}
    labels: list[tuple[float, float, str, str, float]] = []
    placed: list[tuple[Point, float]] = []
    for group in sorted(groups, key=lambda g: (g[0].values[j], g[0].values[i])):
        kinds = {p.reference_kind for p in group}
        color = colors[kinds.pop()] if len(kinds) == 1 else "0.25"
        # A label runs about a quarter of the panel to the right and a line up.
        lift = 0.0
        while any(near(group[0], q, 0.3, 0.06) and abs(l - lift) < 10 for q, l in placed):
            lift += 10.0
        placed.append((group[0], lift))
        text = ", ".join(p.display_label for p in group)
        labels.append((group[0].values[i], group[0].values[j], text, color, lift))
    return labels


def _legend_handles() -> list:
    from matplotlib.lines import Line2D

    def marker(shape: str, color: str, label: str, **kw) -> Line2D:
        kw.setdefault("markersize", 7)
        return Line2D([], [], ls="none", marker=shape, color=color, label=label, **kw)

    return [
        marker("o", _SEARCHED, "searched"),
        marker("o", _FRONT, "searched, on the front"),
        marker("o", "none", "on the Pareto front", markeredgecolor=_BASE, markersize=10),
        marker("s", _BASE, "base"),
        marker("^", _SOURCE, "sources (experts)"),
        marker("D", _RECIPE, "standard recipes"),
    ]


def _single_objective(ax: Axes, data: FrontData) -> None:
    points = sorted(data.searched + data.references, key=lambda p: p.trial_id)
    ax.scatter([p.trial_id for p in points], [p.values[0] for p in points],
               c=[_FRONT if p.on_front else _SEARCHED for p in points], s=24)
    for p in data.references:
        ax.annotate(p.display_label, (p.trial_id, p.values[0]), xytext=(4, 4),
                    textcoords="offset points", fontsize=8)
    ax.set_xlabel("trial")
    ax.set_ylabel(_axis_label(data.objectives[0], data.directions[0]), fontsize=9)
    ax.grid(True, alpha=0.3)


def draw_front(data: FrontData) -> Figure:
    """The front: one scatter for two objectives, pairwise panels for three or more.

    Searched trials are grey, searched front members blue; the base (square),
    the sources (triangles) and the standard recipes (green) are labelled; every
    Pareto-optimal point is ringed. With three or more objectives a point ringed
    in one panel may look dominated there: it is optimal on the objectives
    not shown.
    """
    pairs = data.pairs
    columns = min(3, max(1, len(pairs)))
    rows = max(1, math.ceil(len(pairs) / columns))
    # One panel gets room for the title and a legend in two rows below it.
    fig = _figure(4.6 * columns if columns > 1 else 6.4, 4.0 * rows + (0.7 if columns > 1 else 1.6))
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    n_points = len(data.searched) + len(data.references)
    if n_points == 0:
        _empty(axes[0], "no complete trials yet")
    elif not pairs:
        _single_objective(axes[0], data)
    else:
        for ax, (i, j) in zip(axes, pairs):
            _draw_pair(ax, data, i, j, step_line=len(data.objectives) == 2)
    for ax in axes[max(1, len(pairs)):]:
        ax.set_visible(False)
    title = (f"Pareto front: {len(data.front)} of {n_points} complete trials "
             f"({len(data.searched)} searched, {len(data.references)} references)")
    m = len(data.objectives)
    if m >= 3:
        # A projection hides the other objectives, where a ringed point is the better one.
        title += (f"\nringed points are optimal over all {m} objectives, "
                  "so one may look beaten within a single panel")
    fig.suptitle(title, fontsize=10)
    if n_points:
        fig.legend(handles=_legend_handles(), loc="outside lower center", fontsize=8,
                   ncols=6 if columns > 1 else 3, frameon=False)
    return fig


def draw_hypervolume(data: HypervolumeData) -> Figure:
    """Hypervolume of the front against finished trials and, where recorded, examples scored."""
    by_cost = bool(data.examples) and max(data.examples) > 0
    fig = _figure(11.0 if by_cost else 6.0, 3.8)
    axes = fig.subplots(1, 2) if by_cost else [fig.subplots()]
    ax = axes[0]
    if not data.trials:
        _empty(ax, "no hypervolume yet")
        return fig
    from matplotlib.ticker import MaxNLocator

    if data.initial:
        ax.axvspan(0, data.initial, color="0.92", zorder=0, label="initial design (Sobol)")
    ax.step(data.trials, data.hypervolume, where="post", color=_FRONT, lw=1.6, label="campaign front")
    ax.plot(data.trials, data.hypervolume, "o", color=_FRONT, ms=3)
    if data.reference_hypervolume is not None:
        ax.axhline(data.reference_hypervolume, color=_RECIPE, ls="--", lw=1,
                   label="base, sources and recipes alone")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    last = max(data.trials[-1], 1)
    ax.set_xlim(0, last + 0.02 * last + 0.1)
    ax.set_xlabel("finished searched trials")
    ax.set_ylabel("hypervolume (higher is better)")
    ax.set_title("Hypervolume against trials", fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    if by_cost:
        cost = axes[1]
        cost.step(data.examples, data.hypervolume, where="post", color=_FRONT, lw=1.6)
        cost.plot(data.examples, data.hypervolume, "o", color=_FRONT, ms=3)
        if data.reference_hypervolume is not None:
            cost.axhline(data.reference_hypervolume, color=_RECIPE, ls="--", lw=1)
        cost.set_xlabel("examples scored by searched trials")
        cost.set_title("Hypervolume against cost (full-fidelity front)", fontsize=11)
        cost.grid(True, alpha=0.3)
    return fig


def short_parameter_name(name: str) -> str:
    """``weight[all][math]`` -> ``weight math``; ``density[block0][code]`` -> ``density block0 code``."""
    match = re.fullmatch(r"(\w+)\[([^\]]+)\]\[([^\]]+)\]", name)
    if not match:
        return name
    kind, group, source = match.groups()
    return f"{kind} {source}" if group == "all" else f"{kind} {group} {source}"


def draw_parameters(data: ParameterData, objectives: tuple[str, ...] = ()) -> Figure:
    """Heat map of the front members' parameters: one row per member, one column per parameter."""
    rows, columns = len(data.trial_ids), len(data.parameters)
    label_width = max((len(label) for label in data.row_labels), default=0)
    # Monospace row labels take about 0.065 inch per character at 8 pt.
    fig = _figure(max(5.0, 2.0 + 0.62 * columns + 0.065 * label_width), max(2.8, 1.6 + 0.36 * rows))
    ax = fig.subplots()
    if rows == 0 or columns == 0:
        _empty(ax, "no front member has searched parameters yet")
        return fig
    image = ax.imshow(data.values, aspect="auto", cmap="viridis")
    ax.set_xticks(range(columns), [short_parameter_name(p) for p in data.parameters],
                  rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(rows), data.row_labels, fontsize=8, family="monospace")
    if rows * columns <= 400:
        low, high = image.get_clim()
        middle = (low + high) / 2
        for r, row in enumerate(data.values):
            for c, value in enumerate(row):
                if not math.isnan(value):
                    ax.text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=7,
                            color="black" if value > middle else "white")
    fig.colorbar(image, ax=ax, shrink=0.9, label="parameter value")
    title = "Parameters of the Pareto-front members"
    if objectives:
        title += f"\nrow: member, then its {' | '.join(objectives)}; best {objectives[0]} first"
    ax.set_title(title, fontsize=9, loc="right")
    return fig


def save(fig: Figure, path: str | Path) -> Path:
    """Write a figure as PNG, creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
