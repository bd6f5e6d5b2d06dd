"""The front mmmo finds at the benchmark's budget against the fixed merge recipes.

Same problem and cached evaluation function as :mod:`search_efficiency`. The
front is the Pareto-optimal subset of the ``--budget`` points of one
``mmmo-qlognehvi`` run (seed ``--seed``), taken from ``--runs`` (the
``search_efficiency_runs.json`` of a run with the same zoo and example limit)
when it holds one, else searched here with the same settings. The recipes,
each at its common defaults over all experts:

- ``linear``: the uniform average (weight ``1/k`` each);
- ``task_arithmetic`` with lambda in {0.3, 0.5, 0.7, 1.0} (weight lambda each);
- ``ties`` and ``dare_ties``: weight 1, density 0.5 each.

Figures: how many recipe points a front member dominates (at least as good on
every task and better on one) or matches (equal on every task); the best
normalised accuracy of any front member and of any recipe (a model's accuracy
on each expert task over that task's expert's accuracy, averaged over tasks);
and the accuracy on the zoo's held-out task, that no objective targeted, of
the front members, the recipes, the base and the experts. Writes
``front_quality.md`` under ``--out``; the last line printed is one JSON object
with the figures.

With ``--config CAMPAIGN.yaml`` the problem is that campaign's (its models,
space and searched objectives; its ``report_only`` objectives are the held-out
tasks), as in ``search_efficiency.py --config``. Where the sources are not one
expert per objective (names differ), an objective's "expert" accuracy in the
normalisation is the best any source scores on it.

    python benchmarks/front_quality.py                  # after search_efficiency.py, reuses its run
    python benchmarks/front_quality.py --zoo tiny --budget 10 --initial 4
    python benchmarks/front_quality.py --config campaign.yaml --limit 16 --budget 30 \
        --runs results/real/search_efficiency_runs.json --out results/real
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    PLAN_SEED,
    RESULTS_DIR,
    MergeProblem,
    default_cache_file,
    json_ready,
    load_problem_config,
    problem_key,
)
from peers import EvaluationBudget, run_mmmo  # noqa: E402

TASK_ARITHMETIC_LAMBDAS = (0.3, 0.5, 0.7, 1.0)


def recipes(sources: tuple[str, ...]) -> dict[str, object]:
    """The fixed recipes by label (model-level plans over ``sources``)."""
    from mmmo.plan import MergePlan

    k = len(sources)
    plans = {"linear": MergePlan.uniform("linear", sources, 1.0 / k, seed=PLAN_SEED)}
    for lam in TASK_ARITHMETIC_LAMBDAS:
        plans[f"task_arithmetic(lambda={lam})"] = MergePlan.uniform("task_arithmetic", sources, lam, seed=PLAN_SEED)
    plans["ties"] = MergePlan.uniform("ties", sources, 1.0, 0.5, seed=PLAN_SEED)
    plans["dare_ties"] = MergePlan.uniform("dare_ties", sources, 1.0, 0.5, seed=PLAN_SEED)
    return plans


def own_task_scores(models: dict[str, np.ndarray], tasks: tuple[str, ...], sources: tuple[str, ...]) -> np.ndarray:
    """Per objective (``m``), the score normalised accuracy divides by.

    Each expert's score on its own task when the sources are one expert per
    objective (same names), else the best score any source reaches on it.
    """
    if set(sources) == set(tasks):
        return np.array([models[t][j] for j, t in enumerate(tasks)])
    return np.stack([models[s] for s in sources]).max(axis=0)


def plan_label(problem: MergeProblem, plan) -> str:
    """A front member's parameters: per source at model level, else the space's named values."""
    if set(plan.params) == {"all"} and all(p.density is not None for p in plan.params["all"]):
        return ", ".join(f"{s} w={p.weight:.2f} d={p.density:.2f}" for s, p in zip(problem.sources, plan.params["all"]))
    values = problem.space.values(plan)
    return ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


def normalised_accuracy(values: np.ndarray, expert_values: np.ndarray) -> float:
    """Mean over tasks of accuracy / the task's expert's accuracy (``values``: ``m``)."""
    return float(np.mean(values / expert_values))


def cover(front: np.ndarray, point: np.ndarray) -> str:
    """``dominated``, ``matched`` or ``not covered``: how the best front member (``n x m``) relates to ``point``."""
    at_least = (front >= point).all(axis=1)
    if (at_least & (front > point).any(axis=1)).any():
        return "dominated"
    if at_least.any():
        return "matched"
    return "not covered"


def searched_points(args: argparse.Namespace, problem: MergeProblem, ref_point: np.ndarray) -> tuple[list, list, str]:
    """The qLogNEHVI run's points ``X``, scores ``Y`` and where they came from."""
    if args.runs.is_file():
        saved = json.loads(args.runs.read_text())
        for run in saved.get("runs", []):
            if run["method"] == "mmmo-qlognehvi" and run["seed"] == args.seed and len(run["X"]) == args.budget:
                # Same problem (zoo, example limit) when the shared cache holds every point with these scores.
                cached = [problem.cached_values(x) for x in run["X"]]
                if all(c is not None and np.allclose(c, y, equal_nan=True) for c, y in zip(cached, run["Y"])):
                    return run["X"], run["Y"], f"{args.runs} (mmmo-qlognehvi, seed {args.seed})"
    f = EvaluationBudget(problem, problem_key, args.budget)
    run_mmmo(f, "qlognehvi", problem.dim, problem.num_objectives, args.initial, args.seed, ref_point)
    return f.trace.X, f.trace.Y, "searched here"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--zoo", choices=("default", "tiny"), default="default")
    parser.add_argument("--config", type=Path, default=None,
                        help="a campaign config (YAML) instead of --zoo's demo campaign; its report_only "
                             "objectives are the held-out tasks")
    parser.add_argument("--budget", type=int, default=40)
    parser.add_argument("--initial", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="test examples per task (default: the demo's)")
    parser.add_argument("--runs", type=Path, default=RESULTS_DIR / "search_efficiency_runs.json")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--no-cache-file", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (see search_efficiency.py)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    from mmmo.search.pareto import infer_ref_point, pareto_mask

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    config, held_out = None, ()
    if args.config is not None:
        config = load_problem_config(args.config)
    else:
        from mmmo.zoo import ZooConfig

        held_out = tuple((ZooConfig.tiny() if args.zoo == "tiny" else ZooConfig()).held_out_tasks)
    cache_file = None if args.no_cache_file else default_cache_file(args.zoo, args.limit, config)
    problem = MergeProblem(args.zoo, args.limit, cache_file=cache_file, extra_tasks=held_out, config=config)
    args.zoo, held_out = problem.name, problem.extra_tasks
    tasks, sources = problem.tasks, problem.sources
    models = {name: np.asarray(problem.evaluate_expert(name).values) for name in ("base", *sources)}
    expert_values = own_task_scores(models, tasks, sources)  # m
    if not (expert_values > 0).all():
        raise SystemExit(f"an expert scores 0 on its own task ({dict(zip(tasks, expert_values))}); "
                         "normalised accuracy is undefined")
    campaign_ref = infer_ref_point(torch.tensor(np.stack(list(models.values())), dtype=torch.float64)).numpy()
    X, Y, origin = searched_points(args, problem, campaign_ref)
    Y = np.asarray(Y, dtype=float)
    mask = pareto_mask(torch.tensor(Y)).numpy()
    front_X, front_Y = [X[i] for i in np.nonzero(mask)[0]], Y[mask]

    rows = []
    for x, y in zip(front_X, front_Y):
        plan = problem.space.decode(torch.as_tensor(x), PLAN_SEED)
        label = "front: " + plan_label(problem, plan)
        rows.append({"kind": "front", "label": label, "values": y,
                     "held_out": problem.extra_scores(x), "status": ""})
    for label, plan in recipes(sources).items():
        y = np.asarray(problem.evaluate_plan(plan).values)
        rows.append({"kind": "recipe", "label": label, "values": y, "held_out": problem.extra_scores(plan),
                     "status": cover(front_Y, y)})
    context = []
    for name in ("base", *sources):
        from mmmo.plan import MergePlan

        # Base and experts as task-arithmetic plans (weight 0, or 1 for one expert), for their held-out scores.
        weights = [1.0 if s == name else 0.0 for s in sources]
        plan = MergePlan.uniform("task_arithmetic", sources, weights, seed=PLAN_SEED)
        context.append({"kind": "model", "label": name, "values": models[name],
                        "held_out": problem.extra_scores(plan), "status": ""})
    for row in rows + context:
        row["normalised"] = normalised_accuracy(row["values"], expert_values)

    front_rows = [r for r in rows if r["kind"] == "front"]
    recipe_rows = [r for r in rows if r["kind"] == "recipe"]
    best_recipe = max(recipe_rows, key=lambda r: r["normalised"])
    front_best = max(r["normalised"] for r in front_rows)
    held = {}
    for task in held_out:
        front_scores = [r["held_out"][task] for r in front_rows]
        held[task] = {
            "front_min": min(front_scores), "front_mean": float(np.mean(front_scores)), "front_max": max(front_scores),
            "recipes_max": max(r["held_out"][task] for r in recipe_rows),
            **{name: r["held_out"][task] for name, r in zip(("base", *sources), context)},
        }
    counts = {s: sum(r["status"] == s for r in recipe_rows) for s in ("dominated", "matched", "not covered")}
    result = {
        "settings": {"zoo": args.zoo, "budget": args.budget, "initial": args.initial, "seed": args.seed,
                     "limit": problem.limit, "points_from": origin},
        "front_size": len(front_rows),
        "recipes_total": len(recipe_rows),
        "recipes_dominated": counts["dominated"],
        "recipes_matched": counts["matched"],
        "recipes_not_covered": [r["label"] for r in recipe_rows if r["status"] == "not covered"],
        "all_recipes_covered": counts["not covered"] == 0,
        "front_best_normalised": front_best,
        "best_recipe": best_recipe["label"],
        "best_recipe_normalised": best_recipe["normalised"],
        "normalised_gain": front_best - best_recipe["normalised"],
        "gain_at_least_0_10": front_best - best_recipe["normalised"] >= 0.10,
        "held_out": held,
        "seconds": time.perf_counter() - start,
        "merges_computed": problem.computed,
    }
    table = markdown(rows + context, tasks, held_out, result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "front_quality.md").write_text(table)
    print(table)
    print(json.dumps(json_ready(result)))
    return result


def markdown(rows: list[dict], tasks: tuple[str, ...], held_out: tuple[str, ...], result: dict) -> str:
    s = result["settings"]
    lines = [
        f"Front of mmmo-qlognehvi (seed {s['seed']}, {s['budget']} evaluations, {s['initial']} initial; "
        f"points from {s['points_from']}) against fixed recipes, {s['zoo']} zoo, {s['limit']} test examples per task. "
        f"Normalised = mean over tasks of accuracy / expert accuracy. Held-out task(s): {', '.join(held_out)}.",
        "",
        "| model | " + " | ".join(tasks) + " | normalised | " + " | ".join(f"{t} (held out)" for t in held_out)
        + " | recipe vs front |",
        "|---" * (len(tasks) + len(held_out) + 3) + "|",
    ]
    for r in rows:
        lines.append(
            f"| {r['label']} | " + " | ".join(f"{v:.3f}" for v in r["values"]) + f" | {r['normalised']:.3f} | "
            + " | ".join(f"{r['held_out'][t]:.3f}" for t in held_out) + f" | {r['status']} |"
        )
    lines += [
        "",
        f"Recipes dominated {result['recipes_dominated']}, matched {result['recipes_matched']}, "
        f"not covered {len(result['recipes_not_covered'])} of {result['recipes_total']}; best normalised accuracy: "
        f"front {result['front_best_normalised']:.3f}, best recipe ({result['best_recipe']}) "
        f"{result['best_recipe_normalised']:.3f}, gain {result['normalised_gain']:+.3f}.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
