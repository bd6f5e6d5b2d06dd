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
method not mmmo's (an untagged name outside :data:`MMMO_METHODS`) of highest
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
import statistics
import sys
import time
from pathlib import Path
from typing import NamedTuple

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
from paired_comparison import comparison, evals_to_reach  # noqa: E402
from paired_comparison import markdown as paired_markdown  # noqa: E402
from paired_comparison import targets as paired_targets  # noqa: E402
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

MMMO_METHODS = ("mmmo-qlognehvi", "mmmo-qlognparego", "mmmo-saas", "mmmo-auto", "mmmo-model-qlognehvi")
#: mmmo's qLogNEHVI on the model-level space (``--model-space``) over the same models: what per-layer search must beat.
MODEL_LEVEL = "mmmo-model-qlognehvi"
METHODS = (
    "mmmo-qlognehvi",
    "mmmo-qlognparego",
    "mmmo-saas",
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
#: The method the targets and the paired comparison are about, unless ``--primary`` names another.
PRIMARY = "mmmo-qlognehvi"


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
                 examples=problem.limit, **options)
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
