"""Build the demo zoo from scratch and print its build time and accuracy table.

The zoo is built into a fresh temporary cache (never the project's), so the
time is that of a full build. Then every model is scored on every task, and
task arithmetic of the experts is measured: all experts at weight 1, and a
grid of two-expert weighted merges (the best one per pair is printed).

    python benchmarks/zoo_build.py                 # the default zoo
    python benchmarks/zoo_build.py --config tiny   # the test zoo
    python benchmarks/zoo_build.py --config deep   # the 8-layer zoo of per-layer search
    python benchmarks/zoo_build.py --write-splits  # refresh objectives/zoo/*.jsonl
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WEIGHTS = (0.6, 0.8, 1.0)


def write_splits() -> None:
    from mmmo.zoo import ZooConfig, make_splits
    from mmmo.zoo.tasks import write_jsonl

    config = ZooConfig()
    splits = make_splits(config)
    for name in config.tasks:
        path = REPO / "objectives" / "zoo" / f"{name}.jsonl"
        write_jsonl(splits.test[name], path)
        print(f"wrote {path.relative_to(REPO)} ({len(splits.test[name])} examples)")


def table(rows: dict[str, dict[str, float]], tasks: tuple[str, ...], title: str) -> None:
    width = max(len(r) for r in rows) + 2
    print(f"\n{title}")
    print(" " * width + "".join(f"{t:>14s}" for t in tasks))
    for name, values in rows.items():
        print(f"{name:<{width}s}" + "".join(f"{values[t]:14.2f}" for t in tasks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=("default", "tiny", "deep"), default="default")
    parser.add_argument("--seed", type=int, default=None, help="override the config's seed")
    parser.add_argument("--write-splits", action="store_true", help="write objectives/zoo/*.jsonl and exit")
    args = parser.parse_args()
    if args.write_splits:
        write_splits()
        return

    os.environ["MMMO_CACHE"] = tempfile.mkdtemp(prefix="mmmo-zoo-bench-")
    import torch

    from mmmo.merge import Merger
    from mmmo.plan import MergePlan
    from mmmo.sources import ModelPool
    from mmmo.zoo import ZooConfig, build_zoo
    from mmmo.zoo.evaluate import TaskScorer

    # One thread, as the zoo build itself uses: on a shared two-core machine a
    # second thread mostly waits, and timings are steadier.
    torch.set_num_threads(1)
    config = ZooConfig() if args.config == "default" else getattr(ZooConfig, args.config)()
    if args.seed is not None:
        config = dataclasses.replace(config, seed=args.seed)
    print(f"cpu count: {os.cpu_count()}, load average before the build: {os.getloadavg()}")
    start = time.perf_counter()
    zoo = build_zoo(config, progress=True)
    seconds = time.perf_counter() - start
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in zoo.manifest["seconds"].items())
    print(f"\n{args.config} zoo (seed {config.seed}, key {config.cache_key()}): built in {seconds:.1f} s")
    print(f"stages: {stages}")

    tasks = zoo.expert_tasks + zoo.held_out_tasks
    for metric in ("exact_match", "token_accuracy"):
        table(zoo.scores(metric), tasks, f"{metric} (rows: models, columns: tasks; manifest)")

    pool = ModelPool.load(zoo.base, {t: zoo.experts[t] for t in zoo.expert_tasks})
    merger = Merger(pool)
    scorers = {t: TaskScorer(t, zoo.tasks[t].test, pool.tokenizer) for t in tasks}

    def score(weights: dict[str, float]) -> tuple[dict[str, float], dict[str, float], float]:
        names = tuple(weights)
        merger.apply(MergePlan.uniform("task_arithmetic", names, [weights[n] for n in names]))
        clock = time.perf_counter()
        results = {t: scorer(merger.model) for t, scorer in scorers.items()}
        return (
            {t: r.exact_match for t, r in results.items()},
            {t: r.token_accuracy for t, r in results.items()},
            time.perf_counter() - clock,
        )

    merged_em: dict[str, dict[str, float]] = {}
    merged_tok: dict[str, dict[str, float]] = {}
    label = "TA all w=1"
    merged_em[label], merged_tok[label], eval_seconds = score({t: 1.0 for t in zoo.expert_tasks})
    for a, b in itertools.combinations(zoo.expert_tasks, 2):
        best = None
        for wa, wb in itertools.product(WEIGHTS, WEIGHTS):
            em, tok, _ = score({a: wa, b: wb})
            if best is None or min(em[a], em[b]) > min(best[1][a], best[1][b]):
                best = ((wa, wb), em, tok)
        (wa, wb), em, tok = best
        label = f"TA {a}={wa}+{b}={wb}"
        merged_em[label], merged_tok[label] = em, tok
    table(merged_em, tasks, f"exact_match of task-arithmetic merges (best of weights {WEIGHTS}² per pair)")
    table(merged_tok, tasks, "token_accuracy of the same merges")
    print(f"\none trial's evaluation ({len(tasks)} tasks x {config.test_examples} examples): {eval_seconds:.2f} s")


if __name__ == "__main__":
    main()
