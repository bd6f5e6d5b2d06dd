"""The real zoo's accuracy table, build time, and how well two experts merge.

Builds the real zoo (SmolLM2-135M + LoRA experts on BIG-bench; see
``mmmo.realzoo``) in the cache if it is not there, prints the manifest's
table and build time, then merges every pair of expert adapters by task
arithmetic over a small weight grid and reports, per pair, the merge that
keeps the largest share of both experts' gains over the base (gain kept =
(merge - base) / (expert - base), the smaller of the pair's two tasks).

    python benchmarks/real_zoo.py
    python benchmarks/real_zoo.py --weights 0.5 0.75 1.0

``--campaign DB`` instead reads a finished campaign (``mmmo demo --real``'s
``demo.db``) and sets its best front member next to the standard recipes it
evaluated as reference trials (uniform average, task arithmetic, TIES and
DARE-TIES) and the base and sources, on every task: the searched ones and the
report-only (held-out) ones. "Best" is the searched front member of highest
normalised accuracy: the mean over the searched tasks of its score over the
best source's score on that task.

    python benchmarks/real_zoo.py --campaign mmmo_demo_real/demo.db
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time


def table(rows: dict[str, dict[str, float]], tasks: tuple[str, ...], title: str) -> None:
    width = max(len(r) for r in rows) + 2
    print(f"\n{title}")
    print(" " * width + "".join(f"{t[-22:]:>24s}" for t in tasks))
    for name, values in rows.items():
        print(f"{name:<{width}s}" + "".join(f"{values[t]:24.3f}" for t in tasks))


def front_against_recipes(db: str) -> dict:
    """The best searched front member of campaign ``db`` next to its recipes, base and sources (every task)."""
    from mmmo.campaign import Campaign

    with Campaign.open(db, readonly=True) as campaign:
        trials = campaign.trials()
        front = campaign.front()
        searched, reported = campaign.objective_names, campaign.reported_names
        sources = campaign.config.model_names
    tasks = searched + reported
    done = trials[trials["status"] == "complete"].set_index("label", drop=False)
    best_source = {t: max(float(done.loc[s, t]) for s in sources) for t in searched}

    def normalised(row) -> float:
        return sum(float(row[t]) / best_source[t] for t in searched) / len(searched)

    members = front[front["origin"] == "searched"]
    if members.empty:
        raise SystemExit(f"{db}: no searched trial on the front yet")
    best = max((row for _, row in members.iterrows()), key=normalised)
    rows = {f"best front member (#{int(best['trial_id'])})": best}
    for label in ("base", *sources, "recipe:linear", "recipe:task_arithmetic", "recipe:ties", "recipe:dare_ties"):
        if label in done.index:
            rows[label] = done.loc[label]
    table({name: {t: float(row[t]) for t in tasks} for name, row in rows.items()}, tasks,
          f"{db}: exact match; searched {list(searched)}, report-only (held out) {list(reported)}")
    for name, row in rows.items():
        print(f"{name}: normalised accuracy {normalised(row):.3f}")
    weights = {c: round(float(best[c]), 3) for c in best.index if str(c).startswith(("weight[", "density["))}
    print(f"best front member's parameters: {weights}")
    figures = {
        "campaign": db,
        "searched_tasks": list(searched),
        "reported_tasks": list(reported),
        "front_size": int(len(members)),
        "scores": {name: {t: float(row[t]) for t in tasks} for name, row in rows.items()},
        "normalised": {name: normalised(row) for name, row in rows.items()},
        "best_parameters": weights,
    }
    print(json.dumps(figures))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=float, nargs="+", default=[0.75, 1.0])
    parser.add_argument("--campaign", default=None, help="compare this campaign's front with its recipes instead")
    args = parser.parse_args()
    if args.campaign is not None:
        front_against_recipes(args.campaign)
        return

    import torch

    from mmmo.merge import Merger
    from mmmo.plan import MergePlan
    from mmmo.realzoo import FirstLineExactMatch, RealZooConfig, build_real_zoo
    from mmmo.sources import ModelPool

    torch.set_num_threads(1)
    print(f"cpu count: {os.cpu_count()}, load average: {os.getloadavg()}")
    zoo = build_real_zoo(RealZooConfig(), log=print)
    manifest = zoo.manifest
    tasks = zoo.expert_tasks + zoo.held_out_tasks
    stages = ", ".join(f"{k} {v:.0f}s" for k, v in manifest["seconds"].items())
    print(f"\nreal zoo {zoo.root.name}: built in {manifest['seconds']['total']:.0f} s wall, "
          f"{manifest['cpu_seconds']:.0f} s CPU ({stages})")
    scores = zoo.scores()
    table(scores, tasks, "exact match, first line (rows: models, columns: tasks; manifest)")

    pool = ModelPool.load(zoo.base, {t: zoo.adapters[t] for t in zoo.expert_tasks})
    merger = Merger(pool)
    scorers = {t: FirstLineExactMatch(zoo.tests[t], pool.tokenizer) for t in tasks}
    base = scores["base"]

    def kept(em: dict[str, float], a: str, b: str) -> float:
        return min((em[t] - base[t]) / (scores[t][t] - base[t]) for t in (a, b))

    merges: dict[str, dict[str, float]] = {}
    results = {}
    clock = time.perf_counter()
    for a, b in itertools.combinations(zoo.expert_tasks, 2):
        best = None
        for wa, wb in itertools.product(args.weights, args.weights):
            merger.apply(MergePlan.uniform("task_arithmetic", (a, b), [wa, wb]))
            em = {t: scorer(merger.model).exact_match for t, scorer in scorers.items()}
            if best is None or kept(em, a, b) > kept(best[1], a, b):
                best = ((wa, wb), em)
        (wa, wb), em = best
        merges[f"TA {a}={wa} + {b}={wb}"] = em
        results[f"{a}+{b}"] = {"weights": [wa, wb], "gain_kept": round(kept(em, a, b), 3), "exact_match": em}
    table(merges, tasks, f"best task-arithmetic merge per pair (weights {args.weights} each)")
    for pair, result in results.items():
        print(f"{pair}: smaller share of the two experts' gains kept {result['gain_kept']:.2f}")
    print(f"merge grid scored in {time.perf_counter() - clock:.0f} s")
    print(json.dumps({
        "zoo": zoo.root.name,
        "build_seconds": manifest["seconds"]["total"],
        "build_cpu_seconds": manifest["cpu_seconds"],
        "scores": scores,
        "pairs": results,
        "best_gain_kept": max(r["gain_kept"] for r in results.values()),
    }))


if __name__ == "__main__":
    main()
