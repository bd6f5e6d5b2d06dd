"""One method against the best peer, seed by seed: the figures the search targets are judged on.

Works on the per-method figures of ``search_efficiency.summarise`` (each
method's hypervolume curve per seed, ``seed_curves``, and the hypervolume of
the free reference trials alone before any evaluation, ``hv_start``):

- the best peer: of the given peers, the highest mean hypervolume at the budget;
- paired per seed: the primary method's final hypervolume against a rival's,
  on the seeds both ran; ahead means strictly higher;
- for every method, the evaluations until its curve reaches the best peer's
  final mean hypervolume: 0 when the free trials already reach it, and a seed
  that never reaches it counts as ``budget + 1`` (a lower bound of its true
  cost), so the mean is censored; how many seeds reached it is said beside it;
- the targets: the highest mean hypervolume at the budget, ahead of Ax and of
  the best peer on at least 4 of 6 paired seeds, the best peer's final
  hypervolume reached within 60% of the budget in mean, and the primary's
  proposal seconds per run.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "SEEDS_AHEAD",
    "SPEED_TARGET",
    "best_peer",
    "comparison",
    "evals_to_reach",
    "markdown",
    "paired",
    "reach",
    "targets",
]

#: Share of the budget in which the primary must reach the best peer's final mean hypervolume.
SPEED_TARGET = 0.6
#: Share of paired seeds on which the primary must be ahead (4 of 6), and the fewest paired seeds that can show it.
SEEDS_AHEAD = 4 / 6
MIN_PAIRED_SEEDS = 6
#: Tolerance of "reaches": hypervolume fractions computed by different sums of the same boxes.
TOLERANCE = 1e-12


def best_peer(summary: dict[str, dict], peers: list[str]) -> str | None:
    """The peer of highest mean hypervolume at the budget (``None`` without peers)."""
    present = [n for n in peers if n in summary]
    return max(present, key=lambda n: summary[n]["hv_at_budget"]) if present else None


def paired(summary: dict[str, dict], primary: str, rival: str) -> dict:
    """``primary`` against ``rival`` on the seeds both ran: both final hypervolumes, the difference, the wins."""
    mine, theirs = summary[primary]["seed_curves"], summary[rival]["seed_curves"]
    rows = []
    for seed in sorted(set(mine) & set(theirs)):
        ours, peer = float(mine[seed][-1]), float(theirs[seed][-1])
        rows.append({"seed": seed, "primary": ours, "rival": peer, "difference": ours - peer, "ahead": ours > peer})
    wins = sum(r["ahead"] for r in rows)
    return {"primary": primary, "rival": rival, "seeds": rows, "wins": wins, "paired_seeds": len(rows),
            "ahead": f"{wins} of {len(rows)}"}


def evals_to_reach(curve, target: float, start: float = 0.0) -> int | None:
    """Evaluations until ``curve`` (after each evaluation) reaches ``target``; 0 if ``start`` does; ``None`` never."""
    if start >= target - TOLERANCE:
        return 0
    hits = np.nonzero(np.asarray(curve) >= target - TOLERANCE)[0]
    return int(hits[0]) + 1 if len(hits) else None


def reach(figures: dict, target: float, budget: int) -> dict:
    """One method's evaluations to ``target`` over its seeds: censored mean (never reached = ``budget + 1``)."""
    hits = [evals_to_reach(c, target, figures.get("hv_start", 0.0)) for c in figures["seed_curves"].values()]
    reached = [h for h in hits if h is not None]
    return {
        "mean_censored": float(np.mean([budget + 1 if h is None else h for h in hits])),
        "reached": f"{len(reached)}/{len(hits)}",
        "per_seed": hits,
    }


def comparison(summary: dict[str, dict], primary: str, peers: list[str], budget: int) -> dict:
    """The primary against the best of ``peers`` (and ``ax`` when it ran); every method's evaluations to reach it."""
    best = best_peer(summary, peers)
    if best is None:
        return {"primary": primary, "best_peer": None}
    target = summary[best]["hv_at_budget"]
    result = {
        "primary": primary,
        "best_peer": best,
        "best_peer_final_hv": target,
        "evals_to_best_peer_final": {name: reach(figures, target, budget) for name, figures in summary.items()},
    }
    if primary in summary:
        result["versus_best_peer"] = paired(summary, primary, best)
        if "ax" in summary and primary != "ax":
            result["versus_ax"] = paired(summary, primary, "ax")
    return result


def _ahead_on_enough_seeds(versus: dict | None) -> bool:
    return bool(versus and versus["paired_seeds"] >= MIN_PAIRED_SEEDS
                and versus["wins"] >= SEEDS_AHEAD * versus["paired_seeds"] - TOLERANCE)


def targets(summary: dict[str, dict], compared: dict, rivals: list[str], budget: int) -> dict:
    """The issue's targets for ``compared["primary"]``, met or missed, with the figures they are judged on.

    ``rivals``: the methods whose mean hypervolume the primary must top (the
    untagged methods: runs of other settings are not rivals).
    """
    primary = compared["primary"]
    if primary not in summary or compared.get("best_peer") is None:
        return {}
    ours = summary[primary]
    to_peer = compared["evals_to_best_peer_final"][primary]
    versus_ax, versus_peer = compared.get("versus_ax"), compared["versus_best_peer"]
    return {
        "primary": primary,
        "best_peer": compared["best_peer"],
        "highest_hv_at_budget": bool(
            ours["hv_at_budget"] >= max(summary[n]["hv_at_budget"] for n in {*rivals, primary} if n in summary)
        ),
        "seeds_ahead_of_ax": None if versus_ax is None else versus_ax["ahead"],
        "ahead_of_ax_on_4_of_6_seeds": _ahead_on_enough_seeds(versus_ax),
        "seeds_ahead_of_best_peer": versus_peer["ahead"],
        "ahead_of_best_peer_on_4_of_6_seeds": _ahead_on_enough_seeds(versus_peer),
        "evals_to_best_peer_final": to_peer["mean_censored"],
        "seeds_reaching_best_peer_final": to_peer["reached"],
        "best_peer_final_in_60_percent": to_peer["mean_censored"] <= SPEED_TARGET * budget,
        "seconds_propose_per_run": ours["seconds_propose"],
        "seconds_propose_per_run_median": ours.get("seconds_propose_median"),
    }


def markdown(compared: dict, found: dict) -> str:
    """The paired tables and the targets, under the method table (``found``: :func:`targets`' result)."""
    if compared.get("best_peer") is None:
        return ""
    lines = []
    for key, title in (("versus_best_peer", "the best peer"), ("versus_ax", "Ax")):
        versus = compared.get(key)
        if versus is None or (key == "versus_ax" and versus["rival"] == compared["best_peer"]):
            continue
        lines += ["", f"{versus['primary']} against {title}, {versus['rival']}, per seed (hypervolume at the budget):",
                  "", f"| seed | {versus['primary']} | {versus['rival']} | difference | ahead |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r['seed']} | {r['primary']:.3f} | {r['rival']:.3f} | {r['difference']:+.3f} | "
                  f"{'yes' if r['ahead'] else 'no'} |" for r in versus["seeds"]]
        lines += ["", f"Ahead on {versus['ahead']} paired seeds."]
    if found:
        shown = {k: v for k, v in found.items() if k not in ("primary", "best_peer")}
        lines += ["", f"Targets of {found['primary']} (best peer {found['best_peer']}): "
                  + ", ".join(f"{k}: {_shown(v)}" for k, v in shown.items())]
    return "\n".join(lines) + "\n"


def _shown(value) -> str:
    if isinstance(value, bool):
        return "met" if value else "missed"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)
