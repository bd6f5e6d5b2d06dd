"""The real zoo's accuracy table, build time, and how well two experts merge.

Builds the real zoo (SmolLM2-135M + LoRA experts on BIG-bench; see
``mmmo.realzoo``) in the cache if it is not there, prints the manifest's
table and build time, then merges every pair of expert adapters by task
arithmetic over a small weight grid and reports, per pair, the merge that
keeps the largest share of both experts' gains over the base (gain kept =
(merge - base) / (expert - base), the smaller of the pair's two tasks).

    python benchmarks/real_zoo.py
    python benchmarks/real_zoo.py --weights 0.5 0.75 1.0
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=float, nargs="+", default=[0.75, 1.0])
    args = parser.parse_args()

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
