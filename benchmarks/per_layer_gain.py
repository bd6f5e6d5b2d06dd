"""Do per-layer choices matter? Per-layer changes to the best model-level merge, measured.

Takes the model-level front found by ``mmmo-model-qlognehvi`` in a
``search_efficiency.py`` runs file (the ``dare_ties`` space on the deep zoo)
and, for each of its distinct members, writes it as a point of the per-layer
space (``--space``; a model-level plan is the
per-layer plan with every layer group equal, so the two merge to the same
bits). Then, for every layer group (embeddings, each decoder layer, head), the
weights of all sources in that group alone are scaled by each of
``--factors`` and the merge is scored; finally the best factor of every group
that raised the mean accuracy is applied at once. Reported per member: its
scores, the best single-group change, the combined per-layer merge, and
whether some per-layer change dominates the member (at least as good on every
task, better on one). Scores come from the cache the search runs share
(``common.MergeProblem``), so repeated points cost nothing.

    python benchmarks/per_layer_gain.py benchmarks/results/layers/layers_mmmo/search_efficiency_runs.json --limit 32

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PLAN_SEED, MergeProblem, default_cache_file, json_ready  # noqa: E402


def scaled(plan, group: str, factor: float, high: float):
    """``plan`` with every source's weight in ``group`` multiplied by ``factor`` (at most ``high``)."""
    from mmmo.plan import MergePlan, SourceParams

    params = dict(plan.params)
    params[group] = tuple(SourceParams(min(p.weight * factor, high), p.density) for p in params[group])
    return MergePlan(plan.method, plan.sources, params, plan.grouping, plan.options, plan.seed)


def dominates(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return bool((a >= b).all() and (a > b).any())


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", type=Path, help="a search_efficiency_runs.json holding mmmo-model-qlognehvi runs")
    parser.add_argument("--zoo", default="deep")
    parser.add_argument("--space", default="dare_ties_layers")
    parser.add_argument("--model-space", default="dare_ties")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--factors", default="0.0,0.5,1.5", help="weight multipliers tried per layer group")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    from mmmo.config import load_space
    from mmmo.search.pareto import pareto_mask
    from mmmo.search.space import SearchSpace

    saved = json.loads(args.runs.read_text())
    runs = [r for r in saved["runs"] if r["method"] == "mmmo-model-qlognehvi"]
    if not runs:
        raise SystemExit(f"{args.runs}: no mmmo-model-qlognehvi runs")
    X = np.asarray([x for r in runs for x in r["X"]], dtype=float)
    Y = np.nan_to_num(np.asarray([y for r in runs for y in r["Y"]], dtype=float), nan=0.0)
    front = pareto_mask(torch.tensor(Y)).numpy()
    _, first = np.unique(Y[front].round(6), axis=0, return_index=True)
    members = np.flatnonzero(front)[np.sort(first)]  # one point per distinct front score

    problem = MergeProblem(args.zoo, args.limit, cache_file=default_cache_file(args.zoo, args.limit, space=args.space),
                           space=args.space)
    model_space = SearchSpace(load_space(args.model_space), problem.merger.pool.names,
                              layout=problem.merger.pool.layout)
    high = problem.space.space.parameters["weight"].high
    factors = [float(f) for f in args.factors.split(",")]

    def score(p) -> list[float]:
        return list(problem(problem.space.encode(p).tolist()).values)

    reports = []
    for index in members:
        plan = problem.space.decode(problem.space.encode(model_space.decode(torch.tensor(X[index]), PLAN_SEED)),
                                    PLAN_SEED)
        start = score(plan)
        print(f"model-level member {Y[index].round(3).tolist()}, as a per-layer point: {np.round(start, 3).tolist()}",
              file=sys.stderr)
        trials, chosen = [], {}
        for group in plan.grouping.group_names():
            for factor in factors:
                values = score(scaled(plan, group, factor, high))
                trials.append({"group": group, "factor": factor, "scores": values,
                               "dominates": dominates(values, start)})
                print(f"  {group:>8} x{factor}: {np.round(values, 3).tolist()}", file=sys.stderr)
                if np.mean(values) > np.mean(chosen.get(group, {"scores": start})["scores"]) + 1e-12:
                    chosen[group] = {"factor": factor, "scores": values}
        combined_plan = plan
        for group, pick in chosen.items():
            combined_plan = scaled(combined_plan, group, pick["factor"], high)
        combined = score(combined_plan)
        best_single = max(trials, key=lambda t: np.mean(t["scores"]))
        reports.append({
            "model_level": start,
            "best_single_group_change": best_single,
            "combined": {"changes": {g: p["factor"] for g, p in chosen.items()}, "scores": combined},
            "changes_that_dominate": sum(t["dominates"] for t in trials) + int(dominates(combined, start)),
            "changes_tried": len(trials) + 1,
            "some_per_layer_change_dominates": any(t["dominates"] for t in trials) or dominates(combined, start),
        })
    result = {
        "settings": {"zoo": args.zoo, "space": args.space, "limit": problem.limit, "factors": factors,
                     "tasks": list(problem.tasks)},
        "members": reports,
        "members_improved_per_layer": f"{sum(r['some_per_layer_change_dominates'] for r in reports)}/{len(reports)}",
        "merges_computed": problem.computed,
    }
    print(json.dumps(json_ready(result)))
    return result


if __name__ == "__main__":
    main()
