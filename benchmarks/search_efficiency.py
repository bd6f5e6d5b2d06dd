"""Hypervolume against evaluations: mmmo's proposers next to the optimisers users would pick.

The problem is the demo campaign's (:mod:`mmmo.demo`): the zoo's experts
merged by DARE-TIES with a weight and a density per expert (the ``dare_ties``
model-level space, as in MM-MO), one greedy exact-match objective per expert
task. Every method gets the same budget of distinct evaluations (``--budget``,
``--initial`` of them the initial design) on the same cached evaluation
function (:mod:`common`), for each of ``--seeds`` seeds:

- ``mmmo-qlognehvi``, ``mmmo-qlognparego``: mmmo's proposers called as a
  campaign calls them (:mod:`peers.mmmo_search`), default settings;
- ``sobol``, ``random``: mmmo's quasi-random and random proposers;
- ``pymoo-nsga2``; ``optuna-nsga2``, ``optuna-tpe``; ``ax`` (the Client API's
  default generation strategy); ``cmaes`` (on the mean accuracy);
- ``mm-mo-recipe``: the MM-MO paper's recipe (qEHVI, 10 random initial points,
  batches of 10, reference point from the initial data).

Runs are warm by default, as campaigns are: the reference trials a campaign
scores before its search (the base, each source and four recipes,
:func:`free_trials`) are scored once and are free to every method. They are
on every method's front from the start (its curve starts at evaluation 0 with
their hypervolume), count toward no budget, and each method that can starts
from the ones that are points of the space, by its library's own mechanism:
mmmo's history, Ax's attached trials, Optuna's added trials, pymoo's first
population, CMA-ES's start point, the MM-MO recipe's GP data (:mod:`peers`
says how each uses them); sobol and random have nothing to start from.
``--cold`` gives no method any of them (the comparison from nothing).

Hypervolume is measured in accuracy space against one reference point for all
methods (per task, the worst score any run or the base and experts got, minus
10% of the range: the campaign's rule), and reported as a fraction of the reference
hypervolume: that of the front of every point any method found (and the free
trials), over all seeds. Figures per method (mean and standard deviation over
seeds): the hypervolume fraction at the budget, the evaluations to reach 90%
and 95% of the reference (when every seed reaches it; else how many did; 0
when the free trials alone reach it), and the wall seconds per run split into
proposal (the method's own time) and evaluation (merge + scoring of the points
it was charged, at their first-computed cost).

The comparison is about ``--primary`` (default ``mmmo-qlognehvi``; a tagged
name such as ``mmmo-qlognehvi[warp]`` works too) against the best peer: the
method not mmmo's (an untagged name outside :data:`search_summary.MMMO_METHODS`) of highest
mean hypervolume at the budget (:mod:`paired_comparison`). The table adds, for
every method, the evaluations to reach the best peer's final mean hypervolume
(mean over seeds; a seed that never reaches it counts as budget + 1, and how
many seeds reached it is said); then the primary against the best peer and
against Ax per seed (both hypervolumes, the difference, who is ahead, wins
"k of n" over the seeds both ran); then the targets: the highest mean
hypervolume at the budget, ahead of Ax and of the best peer on at least 4 of
6 paired seeds, the best peer's final hypervolume within 60% of the budget in
mean, and the primary's proposal seconds per run.
Writes ``search_efficiency.png``, ``search_efficiency.md`` and
``search_efficiency_runs.json`` under ``--out``; the last line printed is one
JSON object with, per method, ``hv_at_budget``, ``hv_start`` and
``evals_to_90``, and ``primary``, ``best_peer``, ``best_peer_final_hv``,
``paired`` (``versus_best_peer``, ``versus_ax``), ``evals_to_best_peer_final``
(per method) and ``targets``.

    python benchmarks/search_efficiency.py                         # 3 seeds, 40 evaluations, demo zoo
    python benchmarks/search_efficiency.py --zoo tiny --seeds 1 --budget 5 --initial 4 --limit 16 --smoke  # CI
    # Any campaign config instead of a built-in zoo: its models, space and searched objectives
    # (report_only objectives are left out); e.g. the real zoo's, as `mmmo demo --real` writes it:
    python benchmarks/search_efficiency.py --config mmmo_demo_real/demo.yaml --limit 16 --budget 30 --seeds 3
    python benchmarks/search_efficiency.py --from-runs A.json B.json --only-seeds 0   # every method on seed 0
    python benchmarks/search_efficiency.py --cold --out results/cold      # from nothing: no free reference trials
    # The paired comparison about another setting of mmmo's proposer, stored under a tag:
    python benchmarks/search_efficiency.py --from-runs A.json W.json --primary 'mmmo-qlognehvi[warp]'
    # Other proposer settings next to the defaults, on the same seeds and one reference point:
    python benchmarks/search_efficiency.py --methods mmmo-qlognehvi --seeds 6 --out results/defaults
    python benchmarks/search_efficiency.py --methods mmmo-qlognehvi --seeds 6 --out results/wide --tag wide \
        --mmmo-options '{"max_baseline": null, "mc_samples": 128, "num_restarts": 10}'
    python benchmarks/search_efficiency.py --from-runs results/defaults/search_efficiency_runs.json \
        results/wide/search_efficiency_runs.json --out results/compare
    # After a change to mmmo's proposers, re-run them alone: a method and seed in a
    # later file replace the same method and seed of an earlier one.
    python benchmarks/search_efficiency.py --methods mmmo-qlognehvi,mmmo-qlognparego --out results/mmmo
    python benchmarks/search_efficiency.py --from-runs results/search_efficiency_runs.json \
        results/mmmo/search_efficiency_runs.json --out results/compare
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
    RESULTS_DIR,
    MergeProblem,
    default_cache_file,
    json_ready,
    load_problem_config,
    problem_key,
    searched_only,
)
from search_summary import (  # noqa: E402
    MMMO_METHODS,
    PRIMARY,
    compare,
    markdown_table,
    summarise,
    tagged,
    targets,
    write_plot,
)
from peers import (  # noqa: E402
    EvaluationBudget,
    FreeTrials,
    run_ax,
    run_cmaes,
    run_mmmo,
    run_mmmo_paper,
    run_optuna,
    run_pymoo_nsga2,
)

#: mmmo's qLogNEHVI on the model-level space (``--model-space``) over the same models: what per-layer search must beat.
MODEL_LEVEL = "mmmo-model-qlognehvi"
METHODS = (
    "mmmo-qlognehvi",
    "mmmo-qlognparego",
    "mmmo-saas",
    "mmmo-coarse_to_fine",
    "mmmo-auto",
    MODEL_LEVEL,
    "sobol",
    "random",
    "pymoo-nsga2",
    "optuna-nsga2",
    "optuna-tpe",
    "ax",
    "cmaes",
    "mm-mo-recipe",
)


#: Acquisition settings of ``--smoke``: enough to exercise every code path, not to optimise.
SMOKE_ACQUISITION = {"num_restarts": 2, "raw_samples": 32, "mc_samples": 16}


def run_method(name: str, f: EvaluationBudget, problem: MergeProblem, initial: int, seed: int,
               ref_point: np.ndarray, smoke: bool = False, mmmo_options: dict | None = None,
               mmmo_batch: int = 1, model_space=None) -> None:
    """Spend ``f``'s budget with method ``name``, starting from ``f.free`` where the method can.

    ``smoke``: cheap acquisition optimisation. ``mmmo_options``: constructor
    options of mmmo's model-based proposers (over the smoke settings).
    ``mmmo_batch``: points per proposal of mmmo's model-based proposers.
    ``model_space``: the model-level :class:`~mmmo.search.space.SearchSpace` (:data:`MODEL_LEVEL`).
    """
    from mmmo.search.proposers.design import subset_merges

    d, m = problem.dim, problem.num_objectives
    acquisition = SMOKE_ACQUISITION if smoke else {}
    if name == MODEL_LEVEL:
        options = {**acquisition, **(mmmo_options or {})}
        run_mmmo(f, "qlognehvi", model_space.dim, m, initial, seed, ref_point, batch_size=mmmo_batch,
                 categorical=model_space.categorical, anchors=subset_merges(model_space).numpy(),
                 examples=problem.limit, **options)
    elif name.startswith("mmmo-") or name in ("sobol", "random"):
        options = {**acquisition, **(mmmo_options or {})}
        batch = mmmo_batch if name.startswith("mmmo-") else 1
        run_mmmo(f, name.removeprefix("mmmo-"), d, m, initial, seed, ref_point, batch_size=batch,
                 categorical=problem.space.categorical, anchors=subset_merges(problem.space).numpy(),
                 examples=problem.limit, ties=problem.space.coarse_ties, **options)
    elif name == "pymoo-nsga2":
        run_pymoo_nsga2(f, d, m, initial, seed)
    elif name.startswith("optuna-"):
        run_optuna(f, name.removeprefix("optuna-"), d, m, initial, seed, categorical=problem.space.categorical)
    elif name == "ax":
        # Ax reads its objective string as an expression: a name such as
        # ``arithmetic.2_digit_addition`` must not reach it; the order is what counts.
        run_ax(f, d, [f"objective_{j}" for j in range(m)], initial, seed, categorical=problem.space.categorical)
    elif name == "cmaes":
        run_cmaes(f, d, seed)
    elif name == "mm-mo-recipe":
        run_mmmo_paper(f, d, seed, **acquisition)
    else:
        raise ValueError(f"--methods: unknown method {name!r}; expected some of {list(METHODS)}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per method (first-seed .. first-seed+seeds-1)")
    parser.add_argument("--first-seed", type=int, default=0, help="the first seed (to add seeds to an earlier run)")
    parser.add_argument("--budget", type=int, default=40, help="distinct evaluations per run")
    parser.add_argument("--initial", type=int, default=8, help="initial-design evaluations per run")
    parser.add_argument("--zoo", choices=("default", "tiny", "deep"), default="default",
                        help="deep: the 8-layer zoo of per-layer search")
    parser.add_argument("--space", default=None,
                        help="search-space preset or YAML (default: the demo's dare_ties), e.g. dare_ties_layers")
    parser.add_argument("--model-space", default="dare_ties",
                        help=f"the model-level space {MODEL_LEVEL} searches on the same models")
    parser.add_argument("--mmmo-batch", type=int, default=1,
                        help="points per proposal of mmmo's model-based proposers (a campaign's batch_size)")
    parser.add_argument("--config", type=Path, default=None,
                        help="a campaign config (YAML): its models, space and objectives are the problem, "
                             "instead of --zoo's demo campaign (report_only objectives are not searched on)")
    parser.add_argument("--cold", action="store_true",
                        help="every method starts from nothing: no free reference trials (the base, sources and "
                             "recipes a campaign scores before its search) in its history or on its front")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS))
    parser.add_argument("--primary", default=PRIMARY,
                        help="the method the targets and the paired per-seed comparison are about (a stored name: "
                             "NAME or NAME[TAG], e.g. 'mmmo-qlognehvi[warp]')")
    parser.add_argument("--limit", type=int, default=None, help="test examples per task (default: the demo's)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--no-cache-file", action="store_true", help="keep the evaluation cache in memory only")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: on a shared machine, spinning OpenMP threads slow every step)")
    parser.add_argument("--smoke", action="store_true",
                        help="cheap acquisition optimisation for mmmo and the MM-MO recipe (CI smoke test only; "
                             "its figures say nothing about the methods)")
    parser.add_argument("--mmmo-options", type=json.loads, default=None,
                        help='JSON constructor options of mmmo\'s model-based proposers instead of their defaults, '
                             'e.g. \'{"max_baseline": null, "mc_samples": 128}\' (to compare settings)')
    parser.add_argument("--tag", default=None,
                        help="stored method names become NAME[TAG] (runs of other settings, summarised beside "
                             "the defaults' with --from-runs)")
    parser.add_argument("--from-runs", type=Path, nargs="+", default=None,
                        help="summarise the runs in these search_efficiency_runs.json files (of one zoo, example "
                             "limit, budget and initial design) instead of running")
    parser.add_argument("--only-seeds", type=int, nargs="+", default=None,
                        help="with --from-runs: summarise only the runs of these seeds (every method on equal seeds)")
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        parser.error(f"--methods: unknown {unknown}; choose from {','.join(METHODS)}")
    if args.seeds < 1 or args.first_seed < 0 or args.budget < 2 or not 1 <= args.initial <= args.budget:
        parser.error("need --seeds >= 1, --first-seed >= 0, --budget >= 2 and 1 <= --initial <= --budget")
    args.methods = methods
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    from mmmo.search.pareto import infer_ref_point

    if args.from_runs is not None:
        if any(path.resolve() == (args.out / "search_efficiency_runs.json").resolve() for path in args.from_runs):
            args.out = args.out / "summary"
        runs, *rest = load_runs(args.from_runs, args)
        if args.only_seeds is not None:
            runs = [r for r in runs if r["seed"] in args.only_seeds]
            if not runs:
                raise SystemExit(f"--only-seeds {args.only_seeds}: no run of these seeds in --from-runs")
        return report(args, runs, *rest)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    # Report-only objectives are front_quality.py's business; a search never needs their scores.
    config = searched_only(load_problem_config(args.config)) if args.config is not None else None
    cache_file = None if args.no_cache_file else default_cache_file(args.zoo, args.limit, config, args.space)
    problem = MergeProblem(args.zoo, args.limit, cache_file=cache_file, space=args.space, config=config)
    args.zoo = problem.name  # what the runs file and the report call the problem
    model_space = None
    if MODEL_LEVEL in args.methods:
        from mmmo.config import load_space
        from mmmo.search.space import SearchSpace

        model_space = SearchSpace(load_space(args.model_space), problem.merger.pool.names,
                                  layout=problem.merger.pool.layout)
    setup_seconds = time.perf_counter() - start
    # What a campaign evaluates before its search: the base, the experts and the recipes.
    anchors = {name: problem.evaluate_expert(name).values for name in ("base", *problem.sources)}
    free = {None: None, MODEL_LEVEL: None} if args.cold else {
        None: free_trials(problem, problem.space),
        MODEL_LEVEL: None if model_space is None else free_trials(problem, model_space),
    }
    campaign_ref = infer_ref_point(torch.tensor(list(anchors.values()), dtype=torch.float64)).numpy()
    print(f"problem {problem.name}, tasks {list(problem.tasks)}, {problem.limit} examples each, "
          f"d={problem.dim}; setup {setup_seconds:.1f}s", file=sys.stderr)
    for name, values in anchors.items():
        print(f"  {name:>14}: " + "  ".join(f"{v:.3f}" for v in values), file=sys.stderr)

    args.out.mkdir(parents=True, exist_ok=True)
    runs: list[dict] = []
    failures: dict[str, str] = {}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for method in args.methods:
            evaluate = problem.in_space(model_space) if method == MODEL_LEVEL else problem
            f = EvaluationBudget(evaluate, problem_key, args.budget,
                                 free=free[MODEL_LEVEL if method == MODEL_LEVEL else None])
            begin = time.perf_counter()
            try:
                run_method(method, f, problem, args.initial, seed, campaign_ref, smoke=args.smoke,
                           mmmo_options=args.mmmo_options, mmmo_batch=args.mmmo_batch,
                           model_space=model_space)
            except Exception as exc:  # noqa: BLE001 - a method that breaks is reported, the others still run
                failures[f"{method} seed {seed}"] = f"{type(exc).__name__}: {exc}"
                print(f"seed {seed} {method:>16}: FAILED after {f.used} evaluations: {type(exc).__name__}: {exc}",
                      file=sys.stderr)
                continue
            wall = time.perf_counter() - begin
            runs.append({
                "method": tagged(method, args.tag), "seed": seed, "X": f.trace.X, "Y": f.trace.Y,
                "seconds_eval": f.trace.seconds_eval, "seconds_wall": wall,
                "seconds_propose": wall - f.trace.seconds_wall_eval,
            })
            print(f"seed {seed} {method:>16}: {f.used} evaluations, {wall:.1f}s wall "
                  f"({wall - f.trace.seconds_wall_eval:.1f}s proposing), {problem.computed} merges computed so far",
                  file=sys.stderr)
            # Written after every run, so an interrupted benchmark keeps what it finished.
            partial = problem_settings(args, problem, free[None], start)
            (args.out / "search_efficiency_runs.json").write_text(json.dumps(json_ready(
                {"settings": partial, "args": {k: str(v) for k, v in vars(args).items()}, "anchors": anchors,
                 "campaign_ref_point": campaign_ref.tolist(), "runs": runs, "failures": failures}
            )))
    if not runs:
        raise SystemExit(f"every run failed: {failures}")

    return report(args, runs, failures, anchors, campaign_ref.tolist(), problem_settings(args, problem, free[None], start))


def problem_settings(args: argparse.Namespace, problem: MergeProblem, free: FreeTrials | None, start: float) -> dict:
    """What the runs file says of the problem and the run (compared by ``--from-runs``)."""
    return {
        "zoo": args.zoo, "space": problem.space_name, "seeds": args.seeds, "budget": args.budget,
        "initial": args.initial, "limit": problem.limit, "tasks": list(problem.tasks), "dim": problem.dim,
        "warm": free is not None,
        "free": None if free is None else {"labels": list(free.labels), "X": list(free.X), "Y": list(free.Y)},
        "merges_computed": problem.computed, "wall_seconds": time.perf_counter() - start,
    }


def free_trials(problem: MergeProblem, space) -> FreeTrials:
    """The campaign's reference trials (base, each source, the recipes), scored once, placed in ``space``.

    Base and sources are scored unmerged, as a campaign stores them; a trial
    is a point of the space where :meth:`~mmmo.search.space.SearchSpace.try_encode`
    finds one (the recipe of the space's own method, and the base and each
    source alone in a task-vector space).
    """
    from mmmo.references import reference_trials

    labels, X, Y = [], [], []
    for reference in reference_trials(problem.sources):
        if reference.kind == "base":
            scores = problem.evaluate_expert("base")
        elif reference.kind == "source":
            scores = problem.evaluate_expert(reference.source)
        else:
            scores = problem.evaluate_plan(reference.plan)
        x = space.try_encode(reference.plan)
        labels.append(reference.label)
        X.append(None if x is None else tuple(x.tolist()))
        Y.append(tuple(scores.values))
    return FreeTrials(tuple(labels), tuple(X), tuple(Y))


def load_runs(paths: list[Path], args: argparse.Namespace) -> tuple[list, dict, dict, list, dict]:
    """The runs, failures, anchors, campaign reference point and settings of one or more runs files.

    Files of different problems (zoo, example limit, budget, initial design)
    are refused: their hypervolumes are not comparable. A method and seed
    found in several files is taken from the last (a method re-run after a
    change replaces its runs in an earlier run of every method).
    """
    runs: dict[tuple[str, int], dict] = {}
    failures, settings, first = {}, None, None
    for path in paths:
        saved = json.loads(path.read_text())
        these = saved.get("settings")
        if not isinstance(these, dict):
            # Runs files written before the settings were stored in them: take the flags.
            these = {
                "zoo": args.zoo, "seeds": args.seeds, "budget": args.budget, "initial": args.initial,
                "limit": args.limit, "tasks": [n for n in saved["anchors"] if n != "base"],
                "dim": len(saved["runs"][0]["X"][0]), "merges_computed": 0, "wall_seconds": 0.0,
            }
        if first is None:
            first, settings = saved, dict(these)
        else:
            problem = ("zoo", "space", "limit", "budget", "initial", "tasks", "dim", "warm")
            # Files written before warm starts are cold runs.
            if any(these.get(k, False if k == "warm" else None) != settings.get(k, False if k == "warm" else None)
                   for k in problem) or saved["anchors"] != first["anchors"]:
                raise SystemExit(f"--from-runs: {path} is a run of another problem than {paths[0]}: "
                                 + ", ".join(f"{k} {these.get(k)!r} vs {settings.get(k)!r}" for k in problem))
            settings["merges_computed"] += these["merges_computed"]
            settings["wall_seconds"] += these["wall_seconds"]
        for run in saved["runs"]:
            key = (run["method"], run["seed"])
            if key in runs:
                print(f"--from-runs: {run['method']} seed {run['seed']} taken from {path}", file=sys.stderr)
            runs[key] = run
        failures.update(saved.get("failures", {}))
    return list(runs.values()), failures, first["anchors"], first["campaign_ref_point"], settings


def report(args: argparse.Namespace, runs: list[dict], failures: dict[str, str], anchors: dict,
           campaign_ref: list[float], settings: dict) -> dict:
    """Summarise ``runs``; write the table, the plot and the runs file; print the table and the JSON line."""
    from mmmo.search.pareto import infer_ref_point

    # One reference point for every method: the campaign's rule (worst score minus 10% of the range)
    # applied to every point any run evaluated and the base and experts.
    every = [y for r in runs for y in r["Y"]] + list(anchors.values()) + list((settings.get("free") or {}).get("Y", []))
    ref_point = infer_ref_point(torch.tensor(every, dtype=torch.float64))  # m
    budget = settings["budget"]
    free = (settings.get("free") or {}).get("Y")
    reference_hv, summary = summarise(runs, ref_point, budget, free)
    seeds = sorted({r["seed"] for r in runs})
    text = (
        f"Search efficiency on the {settings['zoo']} zoo ({', '.join(settings['tasks'])}; {settings['limit']} test "
        f"examples each), {settings.get('space', 'dare_ties model-level')} space (d={settings['dim']}), budget {budget} "
        f"({settings['initial']} initial), seeds {seeds}; hypervolume above the reference point "
        f"{[round(v, 3) for v in ref_point.tolist()]}, as a fraction of the union front's ({reference_hv:.4f}). Total wall {settings['wall_seconds']:.0f}s, "
        f"{settings['merges_computed']} merges computed."
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "search_efficiency_runs.json").write_text(json.dumps(json_ready(
        {"settings": settings, "args": {k: str(v) for k, v in vars(args).items()}, "anchors": anchors,
         "campaign_ref_point": campaign_ref, "runs": runs, "failures": failures}
    )))
    primary = getattr(args, "primary", PRIMARY)
    if primary not in summary:
        print(f"--primary {primary!r}: no runs of it here, so no paired comparison or targets; methods: "
              f"{list(summary)}", file=sys.stderr)
    compared = compare(summary, primary)
    found = targets(summary, primary)
    table = markdown_table(summary, text, compared, found)
    if failures:
        table += "\nFailed runs (not in the table):\n\n" + "".join(f"- {k}: {v}\n" for k, v in failures.items())
    (args.out / "search_efficiency.md").write_text(table)
    write_plot(summary, args.out / "search_efficiency.png",
               f"{settings['zoo']} zoo, budget {budget} ({settings['initial']} initial), seeds {seeds}")
    print(table)
    result = {
        "settings": {k: settings[k] for k in ("zoo", "seeds", "budget", "initial", "limit")},
        "reference_hv": reference_hv,
        "methods": {
            name: {k: s[k] for k in ("hv_at_budget", "hv_at_budget_std", "hv_start", "evals_to_90", "reached_90",
                                     "evals_to_95", "reached_95", "seconds_propose", "seconds_propose_median",
                                     "seconds_eval")}
            for name, s in summary.items()
        },
        "failures": failures,
        "primary": primary,
        "best_peer": compared.get("best_peer"),
        "best_peer_final_hv": compared.get("best_peer_final_hv"),
        "paired": {key: compared[key] for key in ("versus_best_peer", "versus_ax") if key in compared},
        "evals_to_best_peer_final": {name: {k: v for k, v in figures.items() if k != "per_seed"}
                                     for name, figures in compared.get("evals_to_best_peer_final", {}).items()},
        "targets": found,
        "outputs": [str(args.out / n) for n in ("search_efficiency.png", "search_efficiency.md")],
    }
    print(json.dumps(json_ready(result)))
    return result


if __name__ == "__main__":
    main()
