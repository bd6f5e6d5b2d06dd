"""Hypervolume of the full-fidelity front against examples scored: multi-fidelity vs single-fidelity search.

The problem is the demo campaign's (:mod:`mmmo.demo`): the zoo's experts merged
by DARE-TIES with a weight and a density per expert, one greedy exact-match
objective per expert task, ``--limit`` test examples each. Every method is a
real :class:`~mmmo.campaign.Campaign` (store, executor, proposer as a user
runs them; base and experts as reference trials, no recipes), on the same
seeds:

- ``mmmo-mf``: qLogNEHVI on a GP over ``[x, fidelity]`` with observation noise,
  new points screened at ``--schedule``'s first fidelity, promotion by the
  optimistic full-fidelity posterior (``fidelity.promote: posterior``);
- ``mmmo-mf-input``: the same with the GP over ``[x, fidelity]`` (``surrogate: input``)
  instead of over ``x`` with the fidelity in the noise (``surrogate: noise``);
- ``mmmo-momf`` / ``mmmo-hvkg``: a GP over ``[x, fidelity]``; each slot goes to
  the new screen or the promotion that BoTorch's MOMF or multi-fidelity
  hypervolume knowledge gradient values most per example
  (``fidelity.acquisition``);
- ``mmmo-sf``: single-fidelity qLogNEHVI, every trial a full evaluation;
- ``sobol``: the Sobol design at full fidelity;
- ``halving``: asynchronous successive halving over the Sobol design
  (``fidelity.promote: halving``, ``--eta``).

Cost is the examples scored by searched trials (a promotion counts only the
examples it adds). Every method gets ``--trials`` full evaluations' worth of
examples (``trials x examples per full evaluation``); the single-fidelity ones
spend it as ``--trials`` trials. Hypervolume is that of the full-fidelity
trials (screening estimates never count) above the campaign's reference point
(inferred from base and experts; the same for every method and seed).

Target (per seed, paired): the full-fidelity hypervolume ``mmmo-sf`` reaches
at its budget, reached by ``mmmo-mf`` with at most half of the examples, on
at least 4 seeds of 5.

Runs append one JSON line per (method, seed) to ``--results`` as they finish,
so runs split by seed in separate processes combine:

    python benchmarks/multi_fidelity.py --seeds 0 1 2 --results results/mf.jsonl &
    python benchmarks/multi_fidelity.py --seeds 3 4 --results results/mf.jsonl &
    python benchmarks/multi_fidelity.py --report results/mf.jsonl --out docs/benchmarks
    python benchmarks/multi_fidelity.py --zoo tiny --limit 16 --trials 6 --initial 2 --seeds 0 --smoke  # CI

The report writes ``multi_fidelity.md`` (table) and ``multi_fidelity.png``
(mean hypervolume against examples, one band of one standard deviation per
method) under ``--out``; the last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ZOO_NAMES = {"default": "demo zoo", "tiny": "tiny zoo", "deep": "deep zoo (8 layers)"}
METHODS = ("mmmo-mf", "mmmo-mf-input", "mmmo-momf", "mmmo-hvkg", "mmmo-sf", "sobol", "halving")


def method_config(method: str, zoo, args: argparse.Namespace, seed: int) -> dict:
    """The campaign config of ``method`` on ``zoo``."""
    from mmmo.demo import demo_config

    config = demo_config(zoo, trials=args.trials, batch_size=args.batch_size, seed=seed, limit=args.limit)
    config = config.model_dump(mode="json")
    config["recipes"] = False
    full = len(zoo.expert_tasks) * args.limit  # examples of one full evaluation
    if method in ("mmmo-sf", "sobol"):
        config["budget"] = {"trials": args.trials, "initial": args.initial, "batch_size": args.batch_size}
        config["proposer"] = "qlognehvi" if method == "mmmo-sf" else "sobol"
        return config
    config["budget"] = {
        "trials": 100 * args.trials,  # the examples budget binds first
        "initial": 0 if method == "halving" else args.initial,
        "batch_size": args.batch_size,
        "examples": args.trials * full,
    }
    config["proposer"] = "sobol" if method == "halving" else "qlognehvi"
    fidelity = {"schedule": args.schedule}
    if method.startswith("mmmo-mf"):
        fidelity.update(promote="posterior", beta=args.beta, eta=args.eta, acquisition="nehvi",
                        surrogate="input" if method == "mmmo-mf-input" else "noise")
    elif method in ("mmmo-momf", "mmmo-hvkg"):
        fidelity.update(promote="posterior", surrogate="input", acquisition=method.removeprefix("mmmo-"))
    else:
        fidelity.update(promote="halving", eta=args.eta)
    config["fidelity"] = fidelity
    return config


def run_one(method: str, seed: int, zoo, args: argparse.Namespace) -> dict:
    """One campaign; its hypervolume history against examples and trials."""
    from botorch.test_utils.mock import mock_optimize_context_manager

    from mmmo.campaign import Campaign

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        with Campaign.create(Path(folder) / "c.sqlite", method_config(method, zoo, args, seed)) as campaign:
            if args.smoke and method.startswith("mmmo-"):
                with mock_optimize_context_manager():  # capped optimisers: every code path, little cost
                    campaign.run()
            else:
                campaign.run()
            history = campaign.hypervolume_history()
            trials = campaign.trials()
            ref_point = campaign.reference_point().tolist()
    searched = trials[trials["origin"] == "searched"]
    return {
        "method": method + (f"[{args.tag}]" if args.tag else ""),
        "seed": seed,
        "examples": history["examples"].astype(float).tolist(),
        "n_searched": history["n_searched"].astype(int).tolist(),
        "hypervolume": history["hypervolume"].astype(float).tolist(),
        "ref_point": ref_point,
        "budget_examples": args.trials * len(zoo.expert_tasks) * args.limit,
        "trials": int(len(searched)),
        "full_evaluations": int((searched["fidelity"] >= 1.0).sum()),
        "promotions": int((searched["proposer"] == "promotion").sum()),
        "seconds_propose": float(searched["seconds_propose"].fillna(0).sum()),
        "seconds_eval": float((searched["seconds_merge"].fillna(0) + searched["seconds_eval"].fillna(0)).sum()),
        "wall_seconds": time.perf_counter() - start,
        "settings": {k: getattr(args, k) for k in ("zoo", "limit", "trials", "initial", "batch_size", "schedule",
                                                   "beta", "eta", "smoke", "tag")},
    }


def _ordered(runs: list[dict]) -> list[str]:
    """Method names of ``runs`` (tagged variants included), in :data:`METHODS` order."""
    names = {r["method"] for r in runs}
    return sorted(names, key=lambda n: (METHODS.index(n.split("[")[0]) if n.split("[")[0] in METHODS else 99, n))


def hv_at(run: dict, examples: float) -> float:
    """The run's full-fidelity hypervolume once ``examples`` had been scored (last value at or before)."""
    value = 0.0
    for spent, hv in zip(run["examples"], run["hypervolume"]):
        if spent <= examples + 1e-9:
            value = hv
        else:
            break
    return value


def examples_to_reach(run: dict, target: float) -> float | None:
    """Examples scored when the run's hypervolume first reached ``target`` (None: never)."""
    for spent, hv in zip(run["examples"], run["hypervolume"]):
        if hv >= target - 1e-12:
            return spent
    return None


def summarise(runs: list[dict]) -> dict:
    """Per method: HV at 25/50/100% of the budget (mean, std), and the paired target check."""
    budget = runs[0]["budget_examples"]
    by_method: dict[str, dict[int, dict]] = {}
    for run in runs:
        by_method.setdefault(run["method"], {})[run["seed"]] = run  # a later line of the same run wins
    summary = {"budget_examples": budget, "methods": {}}
    for method, seeds in by_method.items():
        row = {"seeds": sorted(seeds)}
        for share in (0.25, 0.5, 1.0):
            values = [hv_at(run, share * budget) for run in seeds.values()]
            row[f"hv_{int(share * 100)}"] = (statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0)
        row["full_evaluations"] = statistics.mean(r["full_evaluations"] for r in seeds.values())
        row["trials"] = statistics.mean(r["trials"] for r in seeds.values())
        row["seconds_propose"] = statistics.mean(r["seconds_propose"] for r in seeds.values())
        row["seconds_eval"] = statistics.mean(r["seconds_eval"] for r in seeds.values())
        summary["methods"][method] = row
    single = by_method.get("mmmo-sf", {})
    for method in [m for m in by_method if m != "mmmo-sf"]:
        paired = []
        for seed, sf in sorted(single.items()):
            other = by_method.get(method, {}).get(seed)
            if other is None:
                continue
            target = sf["hypervolume"][-1]
            reached = examples_to_reach(other, target)
            fraction = None if reached is None else reached / max(sf["examples"][-1], 1.0)
            paired.append({"seed": seed, "target_hv": target, "examples": reached, "fraction_of_sf": fraction})
        if paired and method in summary["methods"]:
            met = sum(p["fraction_of_sf"] is not None and p["fraction_of_sf"] <= 0.5 for p in paired)
            summary["methods"][method]["paired"] = paired
            summary["methods"][method]["seeds_within_half"] = met
    return summary


def write_plot(runs: list[dict], summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budget = summary["budget_examples"]
    grid = np.linspace(0, budget, 200)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method in _ordered(runs):
        method_runs = [r for r in runs if r["method"] == method]
        if not method_runs:
            continue
        curves = np.array([[hv_at(r, g) for g in grid] for r in method_runs])
        mean, std = curves.mean(axis=0), curves.std(axis=0)
        ax.plot(grid, mean, label=f"{method} ({len(method_runs)} seeds)")
        ax.fill_between(grid, mean - std, mean + std, alpha=0.15)
    ax.set_xlabel("examples scored by the search")
    ax.set_ylabel("hypervolume of the full-fidelity front")
    ax.set_title(f"Multi-fidelity search on the {ZOO_NAMES[runs[0]['settings']['zoo']]} (mean ± std)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown(summary: dict, runs: list[dict]) -> str:
    settings = runs[0]["settings"]
    lines = [
        f"{ZOO_NAMES[settings['zoo']]}, {settings['limit']} test examples per task, dare_ties model-level space; "
        f"budget {summary['budget_examples']:.0f} examples (= {settings['trials']} full evaluations); "
        f"fidelity schedule {settings['schedule']}, beta {settings['beta']}, eta {settings['eta']}, "
        f"batch size {settings['batch_size']}, {settings['initial']} initial points.",
        "",
        "| method | HV at 25% of budget | HV at 50% | HV at 100% | full evaluations | trials | seeds reaching "
        "mmmo-sf's final HV within 50% of its examples | proposal s / run | evaluation s / run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for method in _ordered(runs):
        row = summary["methods"].get(method)
        if row is None:
            continue
        def cell(key):
            mean, std = row[key]
            return f"{mean:.4f} ± {std:.4f}"
        within = f"{row['seeds_within_half']}/{len(row['paired'])}" if "paired" in row else "—"
        lines.append(
            f"| {method} | {cell('hv_25')} | {cell('hv_50')} | {cell('hv_100')} | {row['full_evaluations']:.1f} | "
            f"{row['trials']:.1f} | {within} | {row['seconds_propose']:.1f} | {row['seconds_eval']:.1f} |"
        )
    screening = [m for m in _ordered(runs) if summary["methods"][m].get("paired") and m.startswith("mmmo-")]
    if screening:
        seeds = sorted({p["seed"] for m in screening for p in summary["methods"][m]["paired"]})
        lines += ["", "Per seed, the share of `mmmo-sf`'s examples each multi-fidelity method needed to reach "
                  "`mmmo-sf`'s final hypervolume (— : not within the budget), and the final hypervolumes:", "",
                  "| seed | mmmo-sf final HV | " + " | ".join(f"{m}: share / final HV" for m in screening) + " |",
                  "|---|---|" + "---|" * len(screening)]
        finals = {(r["method"], r["seed"]): r["hypervolume"][-1] for r in runs}
        for seed in seeds:
            cells, target = [], None
            for method in screening:
                p = next((p for p in summary["methods"][method]["paired"] if p["seed"] == seed), None)
                if p is None:
                    cells.append("not run")
                    continue
                target = p["target_hv"]
                share = "—" if p["fraction_of_sf"] is None else f"{p['fraction_of_sf']:.2f}"
                cells.append(f"{share} / {finals[(method, seed)]:.4f}")
            lines.append(f"| {seed} | {target:.4f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def report(paths: list[Path], out: Path, name: str = "multi_fidelity") -> dict:
    runs = [json.loads(line) for path in paths for line in path.read_text().splitlines() if line.strip()]
    if not runs:
        raise SystemExit(f"no runs in {', '.join(map(str, paths))}")
    summary = summarise(runs)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.md").write_text(markdown(summary, runs))
    write_plot(runs, summary, out / f"{name}.png")
    print(markdown(summary, runs))
    return summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zoo", choices=("default", "tiny", "deep"), default="default")
    parser.add_argument("--limit", type=int, default=100, help="test examples per task")
    parser.add_argument("--trials", type=int, default=40, help="budget in full evaluations")
    parser.add_argument("--initial", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--schedule", type=float, nargs="+", default=[0.25, 1.0])
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--eta", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--results", type=Path, default=RESULTS_DIR / "multi_fidelity_runs.jsonl",
                        help="JSON lines file each finished run is appended to")
    parser.add_argument("--report", type=Path, nargs="+", help="only combine these results files into the report")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--name", default="multi_fidelity", help="file name (no suffix) of the report's table and plot")
    parser.add_argument("--smoke", action="store_true", help="capped optimisers (CI)")
    parser.add_argument("--tag", help="suffix of the method names in the results (a variant's settings)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.report:
        summary = report(args.report, args.out, args.name)
    else:
        from mmmo.zoo import ZooConfig, build_zoo

        zoo = build_zoo(getattr(ZooConfig, args.zoo)() if args.zoo != "default" else ZooConfig(), progress=False)
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        unknown = set(methods) - set(METHODS)
        if unknown:
            raise SystemExit(f"--methods: unknown {sorted(unknown)}; known: {', '.join(METHODS)}")
        args.results.parent.mkdir(parents=True, exist_ok=True)
        for seed in args.seeds:
            for method in methods:
                run = run_one(method, seed, zoo, args)
                with args.results.open("a") as handle:
                    handle.write(json.dumps(run) + "\n")
                print(f"{method} seed {seed}: final HV {run['hypervolume'][-1]:.4f} after "
                      f"{run['examples'][-1]:.0f} examples, {run['trials']} trials "
                      f"({run['full_evaluations']} full), {run['wall_seconds']:.0f} s", flush=True)
        summary = report([args.results], args.out, args.name)
    line = {m: {"hv_at_budget": row["hv_100"][0], "seeds_within_half": row.get("seeds_within_half")}
            for m, row in summary["methods"].items()}
    print(json.dumps({"budget_examples": summary["budget_examples"], "methods": line}))
    return summary


if __name__ == "__main__":
    main()
