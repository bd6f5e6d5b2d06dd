"""Pareto Merging against qLogNEHVI search on the demo zoo's three expert tasks.

Both start from the same base and experts and are scored by the same
objectives (exact match on each expert task's test split, by default):

- search: an mmmo campaign, task arithmetic with one weight per expert in
  [0, 1.5], qLogNEHVI, ``--trials`` evaluations (reference trials apart);
- Pareto Merging: one training run from task arithmetic (weight 1), then a
  simplex grid of preferences (spacing ``1 / --grid-steps``), each stored as a
  trial of its own campaign.

Figures: hypervolume of each method's own trials against one reference point
(the search campaign's, inferred from the base, experts and standard recipes),
total wall time of each, and how closely the models follow the preference
asked for: for every task, Spearman's rank correlation between the
preference's weight on that task and the task's score, over the grid (for the
search, over the member ``Campaign.select`` returns for each grid
preference), averaged over tasks. The last line is one JSON object.

    python benchmarks/pareto_merging_vs_search.py            # default zoo
    python benchmarks/pareto_merging_vs_search.py --tiny --trials 8 --steps 50 --grid-steps 2
    python benchmarks/pareto_merging_vs_search.py --zoo .cache/zoo/<key>   # a zoo built before
    # The real zoo (SmolLM2-135M, LoRA experts; see mmmo.realzoo), against the front of a
    # search campaign already run on it (mmmo demo --real), with either training loss:
    python benchmarks/pareto_merging_vs_search.py --real --search-db mmmo_demo_real/demo.db \
        --limit 32 --steps 60 --grid-steps 3 --loss entropy

With ``--real`` the sources are the real zoo's LoRA adapters and the tasks its
expert tasks (train split for the loss, test split for the scores).
``--search-db`` takes the search side from an existing campaign on the same
models and objectives (its own searched trials, its reference point) instead
of running one; its objectives must score the same examples (same data,
``limit`` and seed).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import torch


def spearman_following(
    preferences: list[dict[str, float]], scores: list[dict[str, float]]
) -> dict[str, float]:
    """Per task: rank correlation of the preference weight with the task's score."""
    from scipy.stats import spearmanr

    out = {}
    for task in preferences[0]:
        weights = [p[task] for p in preferences]
        values = [s[task] for s in scores]
        rho = spearmanr(weights, values).statistic if len(set(values)) > 1 else float("nan")
        out[task] = float(rho)
    return out


def training_options(steps: int, batch_size: int | None, learning_rate: float | None) -> dict:
    """The ``training:`` section: ``steps``, and batch size and learning rate where given (else the config's)."""
    return (
        {"steps": steps}
        | ({"batch_size": batch_size} if batch_size is not None else {})
        | ({"learning_rate": learning_rate} if learning_rate is not None else {})
    )


def mean(values) -> float:
    """Mean over the tasks where the correlation is defined (scores not all equal)."""
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else float("nan")


def json_ready(value):
    """NaN (undefined correlation) as null, so the line is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_ready(v) for v in value]
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="use the test zoo (quick check)")
    parser.add_argument("--zoo", type=Path, default=None, help="an already built zoo folder to use")
    parser.add_argument("--trials", type=int, default=40, help="search evaluations")
    parser.add_argument("--steps", type=int, default=300, help="Pareto Merging training steps")
    parser.add_argument("--grid-steps", type=int, default=6, help="preference grid spacing 1/N")
    parser.add_argument("--metric", default="exact_match", choices=["exact_match", "token_accuracy"])
    parser.add_argument("--loss", default="lm", choices=["lm", "entropy"], help="Pareto Merging task loss")
    parser.add_argument("--limit", type=int, default=None, help="test examples per objective")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="keep the campaigns here")
    parser.add_argument("--real", action="store_true", help="the real zoo (built once, then cached)")
    parser.add_argument("--train-limit", type=int, default=None,
                        help="training examples per task (default: Pareto Merging's own)")
    parser.add_argument("--batch-size", type=int, default=None, help="Pareto Merging training batch size")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="Pareto Merging learning rate (default: the training config's)")
    parser.add_argument("--search-db", type=Path, default=None,
                        help="an existing search campaign on the same models and objectives (not run again)")
    args = parser.parse_args()

    from mmmo.campaign import Campaign
    from mmmo.pareto_merging import parse_pareto_config, run_from_config
    from mmmo.search.pareto import hypervolume, to_maximization
    from mmmo.zoo import Zoo, ZooConfig, build_zoo

    if args.real:
        from mmmo.realzoo import RealZooConfig, build_real_zoo

        zoo = build_real_zoo(RealZooConfig(), log=print)
        sources, tests, trains = zoo.adapters, zoo.tests, zoo.trains
    else:
        zoo = Zoo.load(args.zoo) if args.zoo is not None else build_zoo(
            ZooConfig.tiny() if args.tiny else ZooConfig(), progress=False)
        sources = zoo.experts
        tests = {t: zoo.tasks[t].test for t in zoo.tasks}
        trains = {t: zoo.tasks[t].train for t in zoo.tasks}
    tasks = list(zoo.expert_tasks)
    out = args.out or Path(tempfile.mkdtemp(prefix="pm_vs_search_"))
    out.mkdir(parents=True, exist_ok=True)
    objectives = [
        {"kind": args.metric, "name": t, "data": str(tests[t])}
        | ({"limit": args.limit} if args.limit else {})
        for t in tasks
    ]
    models = [{"path": str(sources[t]), "name": t} for t in tasks]

    # --- search -------------------------------------------------------------
    search_config = {
        "name": "search",
        "base": str(zoo.base),
        "models": models,
        "space": {"method": "task_arithmetic", "parameters": {"weight": [0.0, 1.5]}},
        "objectives": objectives,
        "budget": {"trials": args.trials, "initial": min(8, args.trials)},
        "proposer": "qlognehvi",
        "seed": args.seed,
        "device": "cpu",
    }
    started = time.perf_counter()
    if args.search_db is None:
        search = Campaign.create(out / "search.db", search_config)
        search.run()
        seconds_search = time.perf_counter() - started

    # --- Pareto Merging -------------------------------------------------------
    pm_config = parse_pareto_config(
        {
            "name": "pareto_merging",
            "base": str(zoo.base),
            "models": models,
            "tasks": [{"name": t, "data": str(trains[t]), "loss": args.loss}
                      | ({"limit": args.train_limit} if args.train_limit else {}) for t in tasks],
            "objectives": objectives,
            "start": {"method": "task_arithmetic", "weight": 1.0},
            "training": training_options(args.steps, args.batch_size, args.learning_rate),
            "grid": {"steps": args.grid_steps},
            "seed": args.seed,
            "device": "cpu",
        }
    )
    started = time.perf_counter()
    run = run_from_config(pm_config, db=out / "pareto.db", out=out / "pareto", progress=False)
    seconds_pm = time.perf_counter() - started
    if args.search_db is not None:
        # Opened only now: a search still running beside this one counts with every trial it finished.
        search = Campaign.open(args.search_db, readonly=True)
        seconds_search = float(search.trials()[["seconds_merge", "seconds_eval", "seconds_propose"]].sum().sum())

    # --- figures --------------------------------------------------------------
    ref_point = search.reference_point()
    trials = search.trials()
    done = trials[(trials["status"] == "complete")]
    own_search = done[done["proposer"] != "reference"]
    if ref_point is None:
        from mmmo.search.pareto import infer_ref_point

        refs = done[done["proposer"] == "reference"]
        ref_point = infer_ref_point(
            to_maximization(torch.tensor(refs[tasks].to_numpy(), dtype=torch.double), search.directions)
        )
    ref_point = torch.as_tensor(ref_point, dtype=torch.double)

    def hv(frame) -> float:
        Y = to_maximization(torch.tensor(frame[tasks].to_numpy(), dtype=torch.double), search.directions)
        return hypervolume(Y, ref_point)

    pm_trials = run.campaign.trials()
    pm_own = pm_trials[(pm_trials["status"] == "complete") & (pm_trials["proposer"] == "pareto_merging")]

    grid_prefs = [p.preference for p in run.grid]
    pm_scores = [{t: p.measurements[t].value for t in tasks} for p in run.grid]
    selected = [search.select(pref) for pref in grid_prefs]
    search_scores = [{t: float(row[t]) for t in tasks} for row in selected]
    rho_pm = spearman_following(grid_prefs, pm_scores)
    rho_search = spearman_following(grid_prefs, search_scores)

    print(f"zoo: {zoo.root}  tasks: {tasks}  metric: {args.metric}")
    print(f"reference point: {[round(v, 4) for v in ref_point.tolist()]}")
    print(f"{'':24}{'hypervolume':>12}{'seconds':>10}{'evals':>8}{'spearman':>10}")
    for label, frame, seconds, rho in (
        ("qLogNEHVI search", own_search, seconds_search, rho_search),
        ("Pareto Merging grid", pm_own, seconds_pm, rho_pm),
    ):
        print(f"{label:24}{hv(frame):12.4f}{seconds:10.1f}{len(frame):8d}{mean(rho.values()):10.3f}")
    print(f"Pareto Merging training: {run.training.seconds:.1f} s, {run.model.num_extra_parameters} extra "
          f"parameters ({run.model.extra_fraction:.3%})")
    figures = {
        "zoo": "real" if args.real else str(args.zoo) if args.zoo else ("tiny" if args.tiny else "default"),
        "loss": args.loss,
        "steps": args.steps,
        "train_limit": args.train_limit,
        "search_from": str(args.search_db) if args.search_db else "run here",
        "zoo_key": zoo.manifest.get("cache_key"),
        "metric": args.metric,
        "tasks": tasks,
        "reference_point": ref_point.tolist(),
        "search_trials": int(len(own_search)),
        "grid_points": int(len(pm_own)),
        "hv_search": hv(own_search),
        "hv_search_with_references": hv(done),
        "hv_pareto_merging": hv(pm_own),
        "seconds_search": seconds_search,
        "seconds_pareto_merging": seconds_pm,
        "seconds_pareto_training": run.training.seconds,
        "extra_parameters": run.model.num_extra_parameters,
        "extra_fraction": run.model.extra_fraction,
        "spearman_search": rho_search,
        "spearman_pareto_merging": rho_pm,
        "spearman_search_mean": mean(rho_search.values()),
        "spearman_pareto_merging_mean": mean(rho_pm.values()),
    }
    print(json.dumps(json_ready(figures)))


if __name__ == "__main__":
    main()
