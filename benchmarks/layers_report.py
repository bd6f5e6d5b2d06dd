"""The per-layer search figures, from ``search_efficiency.py`` runs on the deep zoo.

Reads one or more ``search_efficiency_runs.json`` files of one problem (as
``--from-runs`` does: a method and seed in a later file replace those of an
earlier one) and reports, against one reference point for all methods (the
campaign's rule over every point evaluated, base and experts included):

- per method: hypervolume at the budget (mean ± std over seeds, as a
  fraction of the union front's) and proposal seconds per evaluated point;
- ``--ours`` (mmmo's high-dimensional proposer) against the best peer (the
  highest mean hypervolume among the methods not mmmo's, and mmmo's
  model-level search of the same models): per seed, both
  hypervolumes and who is ahead; and, per seed, the evaluations ``--ours``
  needed to reach the best peer's final hypervolume on that seed, as a
  fraction of the budget (a seed that never reaches it counts as budget + 1);
- whether per-layer merges matter: the union front of the per-layer merges
  found against that of the model-level ones (``mmmo-model-qlognehvi``'s, and
  the points of per-layer runs on the model-level subspace): their
  hypervolumes, the best mean accuracy over tasks on each, how many
  model-level front points some per-layer merge dominates, and how many of
  each are on the front of both together.

The targets of the per-layer issue are reported met or missed. The last line
printed is one JSON object with every figure.

    python benchmarks/layers_report.py benchmarks/results/layers/*/search_efficiency_runs.json \\
        --ours mmmo-saas --out docs/benchmarks/layers_dare_ties.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ZOOS, json_ready, zoo_config  # noqa: E402
from search_efficiency import MODEL_LEVEL, load_runs  # noqa: E402
from search_summary import MMMO_METHODS, hv_curve, untagged  # noqa: E402

#: Share of the budget in which ``--ours`` must reach the best peer's final hypervolume.
SPEED_TARGET = 0.6
#: Seeds of five on which ``--ours`` must be ahead of the best peer.
SEEDS_AHEAD = 4 / 5


def model_level_ties(settings: dict) -> tuple[int, ...] | None:
    """The per-layer space's :attr:`~mmmo.search.space.SearchSpace.coarse_ties` on a built-in zoo (else ``None``)."""
    from mmmo.config import load_space
    from mmmo.errors import ConfigError
    from mmmo.search.space import SearchSpace

    if settings.get("zoo") not in ZOOS or not settings.get("space") or not settings.get("tasks"):
        return None
    try:
        space = SearchSpace(load_space(settings["space"]), settings["tasks"],
                            num_layers=zoo_config(settings["zoo"]).num_layers)
    except ConfigError:
        return None
    return space.coarse_ties if space.dim == settings.get("dim") else None


def on_model_level_subspace(X: np.ndarray, ties: tuple[int, ...] | None) -> np.ndarray:
    """Which rows of ``X`` give every group of a source the same values: model-level merges (``n`` bools)."""
    from mmmo.search.proposers.coarse_to_fine import on_subspace

    X = np.asarray(X, dtype=float).reshape(len(X), -1)
    if ties is None or X.shape[-1] != len(ties):
        return np.zeros(len(X), dtype=bool)
    return on_subspace(torch.from_numpy(X), ties).numpy()


def per_layer_matters(runs: list[dict], ref_point: torch.Tensor, ties: tuple[int, ...] | None = None,
                      free: np.ndarray | None = None) -> dict | None:
    """Per-layer merges' union front against model-level merges' (``None`` without both).

    Model-level merges are those of ``mmmo-model-qlognehvi`` and the points of
    per-layer runs on the model-level subspace (``ties``: every group of a
    source at one value), and the free reference trials (``free``: base,
    sources, recipes); per-layer merges are the other points of per-layer runs.
    """
    from mmmo.search.pareto import hypervolume, pareto_mask

    model, layered = ([] if free is None else list(np.asarray(free, dtype=float).tolist())), []
    for r in runs:
        if r["method"] == MODEL_LEVEL:
            model.extend(r["Y"])
            continue
        tied = on_model_level_subspace(np.asarray(r["X"]), ties)
        for y, is_model in zip(r["Y"], tied):
            (model if is_model else layered).append(y)
    if not model or not layered:
        return None
    model_Y, layer_Y = (torch.tensor(np.nan_to_num(np.asarray(v, dtype=float), nan=0.0)) for v in (model, layered))
    model_front = torch.unique(model_Y[pareto_mask(model_Y)], dim=0)  # distinct front points
    dominated = [bool(((layer_Y >= p).all(-1) & (layer_Y > p).any(-1)).any()) for p in model_front]
    every = torch.cat([model_Y, layer_Y])
    on_front = pareto_mask(every)
    m = every.shape[-1]
    # The best merge for two tasks at once: the highest lower score of the pair.
    pairs = {f"{i},{j}": {"model_level": float(torch.minimum(model_Y[:, i], model_Y[:, j]).max()),
                          "per_layer": float(torch.minimum(layer_Y[:, i], layer_Y[:, j]).max())}
             for i in range(m) for j in range(i + 1, m)}
    return {
        "hv_model_level": hypervolume(model_Y, ref_point),
        "hv_per_layer": hypervolume(layer_Y, ref_point),
        "best_mean_accuracy_model_level": float(model_Y.mean(-1).max()),
        "best_mean_accuracy_per_layer": float(layer_Y.mean(-1).max()),
        "model_level_points": len(model_Y),
        "per_layer_points": len(layer_Y),
        "model_front_points": len(model_front),
        "model_front_points_dominated_by_per_layer": int(sum(dominated)),
        "union_front_per_layer_points": int(on_front[len(model_Y):].sum()),
        "union_front_model_level_points": int(on_front[: len(model_Y)].sum()),
        "best_pair_minimum": pairs,
    }


def versus(curves: dict, methods: dict, ours: str, peers: list[str], budget: int) -> dict:
    """``ours`` against the peer of highest mean hypervolume among ``peers``, seed by seed."""
    best = max(peers, key=lambda n: methods[n]["hv_at_budget"])
    seeds = sorted(set(curves[ours]) & set(curves[best]))
    paired, reach = [], []
    for seed in seeds:
        mine, theirs = curves[ours][seed], curves[best][seed]
        paired.append({"seed": seed, "ours": float(mine[-1]), "best_peer": float(theirs[-1]),
                       "ahead": bool(mine[-1] > theirs[-1])})
        hits = np.nonzero(mine >= theirs[-1] - 1e-12)[0]
        reach.append(int(hits[0]) + 1 if len(hits) else budget + 1)
    ahead = sum(p["ahead"] for p in paired)
    rivals = [ours, *peers]
    return {
        "ours": ours, "best_peer": best, "paired": paired, "seeds_ahead": f"{ahead}/{len(paired)}",
        "evals_to_best_peer_final": reach,
        "evals_to_best_peer_final_fraction": float(np.mean(reach)) / budget if reach else None,
        "targets": {
            "highest_mean_hv": bool(methods[ours]["hv_at_budget"] >= max(methods[n]["hv_at_budget"] for n in rivals)),
            "ahead_on_4_of_5_seeds": bool(len(paired) >= 5 and ahead >= SEEDS_AHEAD * len(paired)),
            "best_peer_final_in_60_percent": bool(reach and max(reach) <= SPEED_TARGET * budget),
        },
    }


def report(runs: list[dict], anchors: dict, settings: dict, ours: str) -> dict:
    from mmmo.search.pareto import hypervolume, infer_ref_point

    budget = settings["budget"]
    every = [y for r in runs for y in r["Y"]] + list(anchors.values())
    ref_point = infer_ref_point(torch.tensor(every, dtype=torch.float64))
    # Warm runs: the free reference trials are on every method's front from the start, as search_efficiency counts them.
    free = np.asarray((settings.get("free") or {}).get("Y") or np.zeros((0, len(ref_point))), dtype=float)
    found = [y for r in runs for y in r["Y"]] + free.tolist()
    union = hypervolume(torch.tensor(np.nan_to_num(np.asarray(found, dtype=float), nan=0.0)), ref_point)
    curves: dict[str, dict[int, np.ndarray]] = {}
    seconds: dict[str, list[float]] = {}
    for r in runs:
        curves.setdefault(r["method"], {})[r["seed"]] = hv_curve(np.asarray(r["Y"]), ref_point, union, budget, free)
        seconds.setdefault(r["method"], []).append(r["seconds_propose"] / max(len(r["Y"]), 1))
    methods = {
        name: {
            "seeds": sorted(by_seed),
            "hv_at_budget": float(np.mean([c[-1] for c in by_seed.values()])),
            "hv_at_budget_std": float(np.std([c[-1] for c in by_seed.values()])),
            "proposal_s_per_point": float(np.mean(seconds[name])),
        }
        for name, by_seed in curves.items()
    }
    result: dict = {"settings": settings, "reference_hv": union, "methods": methods,
                    "per_layer_matters": per_layer_matters(runs, ref_point, model_level_ties(settings), free)}
    # mmmo's model-level search is a peer here: per-layer search must beat it on the same budget.
    peers = [n for n in methods if n != ours and (untagged(n) not in MMMO_METHODS or untagged(n) == MODEL_LEVEL)]
    if ours in methods and peers:
        result["versus_best_peer"] = versus(curves, methods, ours, peers, budget)
        same_space = [n for n in peers if untagged(n) != MODEL_LEVEL]
        best = result["versus_best_peer"]["best_peer"]
        if same_space and untagged(best) == MODEL_LEVEL:
            result["versus_best_per_layer_peer"] = versus(curves, methods, ours, same_space, budget)
        model_level = [n for n in peers if untagged(n) == MODEL_LEVEL]
        if model_level and untagged(best) != MODEL_LEVEL:
            result["versus_model_level"] = versus(curves, methods, ours, model_level, budget)
    return result


def markdown(result: dict) -> str:
    s = result["settings"]
    lines = [
        f"Deep zoo ({', '.join(s['tasks'])}; {s['limit']} test examples each), {s.get('space')} space "
        f"(d={s['dim']}), budget {s['budget']} ({s['initial']} initial). Hypervolume as a fraction of the union "
        f"front's ({result['reference_hv']:.4f}).",
        "",
        "| method | seeds | HV at budget (mean ± std) | proposal s / point |",
        "|---|---|---|---|",
    ]
    for name, m in sorted(result["methods"].items(), key=lambda item: -item[1]["hv_at_budget"]):
        lines.append(f"| {name} | {len(m['seeds'])} | {m['hv_at_budget']:.3f} ± {m['hv_at_budget_std']:.3f} "
                     f"| {m['proposal_s_per_point']:.2f} |")
    for key, title in (("versus_best_peer", "the best peer"),
                       ("versus_best_per_layer_peer", "the best peer searching the same per-layer space"),
                       ("versus_model_level", "mmmo's model-level search of the same models")):
        versus = result.get(key)
        if not versus:
            continue
        lines += ["", f"{versus['ours']} against {title}, {versus['best_peer']}, per seed:", "",
                  "| seed | ours | best peer | ahead | evals to the peer's final HV |", "|---|---|---|---|---|"]
        for p, reach in zip(versus["paired"], versus["evals_to_best_peer_final"]):
            shown = reach if reach <= s["budget"] else f"not reached (> {s['budget']})"
            lines.append(f"| {p['seed']} | {p['ours']:.3f} | {p['best_peer']:.3f} | "
                         f"{'yes' if p['ahead'] else 'no'} | {shown} |")
        lines += ["", "Targets: " + ", ".join(f"{k}: {'met' if v else 'missed'}" for k, v in versus["targets"].items())]
    matters = result.get("per_layer_matters")
    if matters:
        lines += ["", "Per-layer merges against model-level merges of the same models (union fronts; a per-layer "
                  "run's point that gives every group of a source one value counts as model-level: "
                  f"{matters['model_level_points']} model-level points, {matters['per_layer_points']} per-layer):", "",
                  f"- hypervolume: per-layer {matters['hv_per_layer']:.4f}, model-level {matters['hv_model_level']:.4f}",
                  f"- best mean accuracy over tasks: per-layer {matters['best_mean_accuracy_per_layer']:.3f}, "
                  f"model-level {matters['best_mean_accuracy_model_level']:.3f}",
                  f"- model-level front points dominated by a per-layer point: "
                  f"{matters['model_front_points_dominated_by_per_layer']} of {matters['model_front_points']}",
                  f"- points on the front of all of them: {matters['union_front_per_layer_points']} per-layer, "
                  f"{matters['union_front_model_level_points']} model-level",
                  "- the best merge for two tasks at once (the highest lower score of the pair), per-layer against "
                  "model-level: " + "; ".join(
                      f"{s['tasks'][int(k.split(',')[0])]} + {s['tasks'][int(k.split(',')[1])]}: "
                      f"{v['per_layer']:.3f} against {v['model_level']:.3f}"
                      for k, v in matters["best_pair_minimum"].items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", type=Path, nargs="+", help="search_efficiency_runs.json files of one problem")
    parser.add_argument("--ours", default="mmmo-auto", help="mmmo's high-dimensional proposer's method name")
    parser.add_argument("--out", type=Path, default=None, help="write the markdown table here")
    args = parser.parse_args(argv)
    fallback = argparse.Namespace(zoo=None, seeds=None, budget=None, initial=None, limit=None)
    runs, _failures, anchors, _ref, settings = load_runs(args.runs, fallback)
    result = report(runs, anchors, settings, args.ours)
    text = markdown(result)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(json.dumps(json_ready(result)))
    return result


if __name__ == "__main__":
    main()
