"""What the search benchmark reports: hypervolume curves, their summary per method, the table and the plot.

Works on the runs :mod:`search_efficiency` stores (each method's scores per
seed, in the order it paid for them) and, for a warm run, the free reference
trials' scores, which are on every method's front from evaluation 0. The
paired comparison against the best peer is :mod:`paired_comparison`'s.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from paired_comparison import comparison, evals_to_reach
from paired_comparison import markdown as paired_markdown
from paired_comparison import targets as paired_targets

#: Names of mmmo's own methods: never a peer, drawn bold in the plot.
MMMO_METHODS = (
    "mmmo-qlognehvi",
    "mmmo-qlognparego",
    "mmmo-saas",
    "mmmo-coarse_to_fine",
    "mmmo-auto",
    "mmmo-model-qlognehvi",
)
#: The method the targets and the paired comparison are about, unless ``--primary`` names another.
PRIMARY = "mmmo-qlognehvi"


def hv_curve(Y: np.ndarray, ref_point: torch.Tensor, reference_hv: float, budget: int,
             free: np.ndarray | None = None) -> np.ndarray:
    """Hypervolume fraction after each evaluation (``budget``; a run that stopped early keeps its last value).

    ``free``: the scores of the free reference trials (``k x m``), on every
    method's front from the start, as on a campaign's.
    """
    from mmmo.search.pareto import hypervolume_history

    free = np.zeros((0, len(ref_point))) if free is None else np.asarray(free, dtype=float).reshape(-1, len(ref_point))
    Y = np.asarray(Y, dtype=float).reshape(-1, len(ref_point))
    both = np.concatenate([free, Y])
    curve = np.zeros(budget)
    if len(both):
        history = hypervolume_history(torch.tensor(both, dtype=torch.float64), ref_point).numpy() / reference_hv
        history = history[len(free):] if len(Y) else history[-1:]
        curve[: len(history)] = history
        curve[len(history) :] = history[-1]
    return curve


def evals_to(curve: np.ndarray, fraction: float, start: float = 0.0) -> int | None:
    """Evaluations until the curve first reaches ``fraction`` (0 if ``start``, the free trials' alone, does;
    ``None`` if it never does)."""
    return evals_to_reach(curve, fraction, start)


def summarise(runs: list[dict], ref_point: torch.Tensor, budget: int,
              free: np.ndarray | None = None) -> tuple[float, dict[str, dict]]:
    """Reference hypervolume and, per method, the figures over its seeds (``free``: the free trials' scores).

    Besides the mean figures, each method's ``seed_curves`` (seed -> its
    hypervolume fraction after each evaluation) and ``hv_start`` (the free
    trials' alone, before any evaluation; 0 in a cold run) feed the paired
    comparison (:mod:`paired_comparison`) and the plot.
    """
    from mmmo.search.pareto import hypervolume

    free = np.zeros((0, len(ref_point))) if free is None else np.asarray(free, dtype=float).reshape(-1, len(ref_point))
    every_point = np.concatenate([free] + [np.asarray(r["Y"], dtype=float).reshape(-1, len(ref_point)) for r in runs])
    reference_hv = hypervolume(torch.tensor(every_point), ref_point)
    start = hv_curve(np.zeros((0, len(ref_point))), ref_point, reference_hv, 1, free)[0] if len(free) else 0.0
    summary: dict[str, dict] = {}
    for name in dict.fromkeys(r["method"] for r in runs):
        mine = [r for r in runs if r["method"] == name]
        curves = np.stack([hv_curve(np.asarray(r["Y"]), ref_point, reference_hv, budget, free) for r in mine])
        at_budget = curves[:, -1]
        figures = {
            "warm": bool(len(free)),
            "hv_start": float(start),
            "seed_curves": {r["seed"]: curve for r, curve in zip(mine, curves)},
            "hv_at_budget": float(at_budget.mean()),
            "hv_at_budget_std": float(at_budget.std()),
            "curve_mean": curves.mean(axis=0).tolist(),
            "curve_std": curves.std(axis=0).tolist(),
            "seeds": len(mine),
            "evaluations": float(statistics.mean(len(r["Y"]) for r in mine)),
            "seconds_propose": float(statistics.mean(r["seconds_propose"] for r in mine)),
            "seconds_propose_median": float(statistics.median(r["seconds_propose"] for r in mine)),
            "seconds_eval": float(statistics.mean(sum(r["seconds_eval"]) for r in mine)),
        }
        for percent in (90, 95):
            hits = [evals_to(c, percent / 100, start) for c in curves]
            reached = [h for h in hits if h is not None]
            figures[f"evals_to_{percent}"] = float(statistics.mean(reached)) if len(reached) == len(hits) else None
            figures[f"reached_{percent}"] = f"{len(reached)}/{len(hits)}"
            # Seeds that never reach it count as budget + 1: a lower bound of their true cost.
            figures[f"evals_to_{percent}_censored"] = float(
                statistics.mean(budget + 1 if h is None else h for h in hits)
            )
        summary[name] = figures
    return reference_hv, summary


def tagged(method: str, tag: str | None) -> str:
    """The stored name of ``method``'s runs under other settings: ``NAME[TAG]`` (``NAME`` untagged)."""
    return method if tag is None else f"{method}[{tag}]"


def untagged(name: str) -> str:
    """The method a stored name runs (:func:`tagged` undone)."""
    return name.split("[")[0]


def peers_of(summary: dict[str, dict], primary: str = PRIMARY) -> list[str]:
    """The peers: methods not mmmo's, untagged (runs of other settings are not peers), but the primary."""
    return [n for n in summary if untagged(n) == n and n not in MMMO_METHODS and n != primary]


def compare(summary: dict[str, dict], primary: str = PRIMARY) -> dict:
    """``primary`` against the best peer and Ax, paired per seed; every method's evaluations to the best peer's HV."""
    budget = len(next(iter(summary.values()))["curve_mean"]) if summary else 0
    return comparison(summary, primary, peers_of(summary, primary), budget)


def targets(summary: dict[str, dict], primary: str = PRIMARY) -> dict:
    """The issue's targets for ``primary`` (:func:`paired_comparison.targets`); ``{}`` without it or a peer."""
    budget = len(next(iter(summary.values()))["curve_mean"]) if summary else 0
    rivals = [n for n in summary if untagged(n) == n]  # runs of other settings (NAME[TAG]) are not rivals
    return paired_targets(summary, compare(summary, primary), rivals, budget)


class CurvePoints(NamedTuple):
    """One method's plotted curve: evaluations, mean and standard deviation of the hypervolume fraction."""

    steps: np.ndarray
    mean: np.ndarray
    std: np.ndarray


def curve_points(figures: dict) -> CurvePoints:
    """The curve of one method's :func:`summarise` figures, from evaluation 1 (cold) or 0 (warm).

    A warm run's front holds the free reference trials before any evaluation,
    so its curve starts at evaluation 0 with their hypervolume (the same for
    every seed: no spread there).
    """
    mean, std = np.asarray(figures["curve_mean"]), np.asarray(figures["curve_std"])
    steps = np.arange(1, len(mean) + 1)
    if figures.get("warm"):
        return CurvePoints(np.r_[0, steps], np.r_[figures["hv_start"], mean], np.r_[0.0, std])
    return CurvePoints(steps, mean, std)


def write_plot(summary: dict[str, dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9.5, 5))
    # One colour per method: the default cycle repeats after ten, and runs of
    # tagged settings sit beside the ten methods; past ten, the light shades.
    palette = plt.get_cmap("tab10").colors + plt.get_cmap("tab20").colors[1::2]
    for i, (name, s) in enumerate(summary.items()):
        color = palette[i % len(palette)]
        steps, mean, std = curve_points(s)
        ours = untagged(name) in MMMO_METHODS
        ax.plot(steps, mean, "-" if ours else "--", color=color, label=name, linewidth=2.2 if ours else 1.2)
        ax.fill_between(steps, mean - std, mean + std, color=color, alpha=0.10)
    ax.axhline(0.9, color="grey", linewidth=0.8, linestyle=":")
    warm = any(s.get("warm") for s in summary.values())
    if warm:
        ax.set_xlim(left=0)
    ax.set_xlabel("evaluations" + (" (0: the free reference trials alone)" if warm else ""))
    ax.set_ylabel("hypervolume / reference hypervolume")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the curves, not over them
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown_table(summary: dict[str, dict], settings: str, compared: dict | None = None,
                   found: dict | None = None) -> str:
    """The method table; with ``compared`` (:func:`compare`), a column of evaluations to the best peer's final
    hypervolume, then the paired tables and the targets (``found``: :func:`targets`)."""
    def evals(s: dict, percent: int) -> str:
        value = s[f"evals_to_{percent}"]
        return f"{value:.1f}" if value is not None else f"— ({s[f'reached_{percent}']} seeds)"

    to_peer = (compared or {}).get("evals_to_best_peer_final")
    peer_column = (f" evals to {compared['best_peer']}'s final HV ({compared['best_peer_final_hv']:.3f}) |"
                   if to_peer else "")
    lines = [
        settings,
        "",
        "| method | HV at budget (mean ± std) | evals to 90% | evals to 95% |" + peer_column
        + " proposal s / run | evaluation s / run |",
        "|---|---|---|---|" + ("---|" if to_peer else "") + "---|---|",
    ]
    order = sorted(summary, key=lambda n: -summary[n]["hv_at_budget"])
    for name in order:
        s = summary[name]
        reached = f" {to_peer[name]['mean_censored']:.1f} ({to_peer[name]['reached']} seeds) |" if to_peer else ""
        lines.append(
            f"| {name} | {s['hv_at_budget']:.3f} ± {s['hv_at_budget_std']:.3f} | {evals(s, 90)} | {evals(s, 95)} |"
            f"{reached} {s['seconds_propose']:.1f} | {s['seconds_eval']:.1f} |"
        )
    if to_peer:
        lines += ["", "Evaluations to reach the best peer's final mean hypervolume: mean over seeds, a seed that "
                  "never reaches it counted as budget + 1 (0: the free reference trials alone reach it)."]
    return "\n".join(lines) + "\n" + (paired_markdown(compared, found or {}) if compared else "")
