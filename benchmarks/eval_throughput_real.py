"""Evaluation throughput on the real zoo (``eval_throughput.py --real``).

The real zoo (SmolLM2-135M-Instruct and LoRA experts on BIG-bench tasks,
:mod:`mmmo.realzoo`, built once and cached) is loaded into one
:class:`~mmmo.merge.Merger`. Four models are scored on the experts' tasks
(``--limit`` test items per task, 64 by default: a trial's evaluation in the
real-model campaign): the base, one expert, and two task-arithmetic merges
whose score (rows right over all tasks) lies between 0.2 and 0.8, picked
from a fixed list of candidate weights in order.

Each model is scored by three paths, all greedy, stopping at the data's stop
string (a newline) or EOS, with the same generation cap per task:

- ``mmmo``: the built-in :class:`~mmmo.objectives.ExactMatch`, one per task,
  as a campaign builds it (certification policy, length-cut batches, shared
  prompt prefix);
- ``lmeval``: lm-eval's ``generate_until`` through
  :class:`~mmmo.objectives.LmEvalObjective` (``HFLM`` around the live model),
  one YAML task per test file, ``until: ["\\n"]``;
- ``generate``: ``model.generate`` on the test file in batches of
  ``--batch-size`` prompts, left-padded, with transformers' stop-string
  stopping criterion, read back as the built-in objective reads its output.

Timing: the paths take turns, each called once untimed then ``--repeats``
times; the median is reported as examples per second. The clock is this
process's CPU time (``--clock cpu``, the default): with one torch thread it is
the work done, and it stays put when other processes share the cores, where
wall time does not (``--clock wall`` for wall time, e.g. on a GPU). The scores of the three
are asserted equal. Also measured: the certification pass's cost on rows that
are decoded anyway (every model scored with certification forced on and
forced off), and a trial's other work: the merge (``Merger.apply``, median)
and one qLogNEHVI proposal (three objectives, ``--history`` observed trials,
warmed as in a campaign). The evaluation share of a trial is
``eval / (merge + eval + proposal)``.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import yaml

# Candidate merges, tried in order until two score between 0.2 and 0.8: task
# arithmetic weights on (addition, object counting, subtraction).
MERGE_CANDIDATES = ((0.5, 0.0, 0.5), (1.0, 1.0, 0.0), (0.7, 0.7, 0.7), (1.0, 0.5, 0.5), (0.5, 0.5, 0.5))


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def interleaved_medians(
    functions: dict[str, Callable[[], Any]], repeats: int, clock: Callable[[], float] = time.process_time
) -> dict[str, float]:
    """Median seconds per call of each function, called in turn after one warm-up call each."""
    for function in functions.values():
        function()
    seconds: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = clock()
            function()
            seconds[name].append(clock() - start)
    return {name: statistics.median(values) for name, values in seconds.items()}


def lm_eval_task(task: str, test_file: Path, max_gen_toks: int, into: Path) -> str:
    """A YAML ``generate_until`` task on ``test_file``, scored like the built-in objective."""
    name = "real_" + task.replace(".", "_")
    config = {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(test_file.resolve())}},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_text": "prompt",
        "doc_to_target": "answer",
        "generation_kwargs": {"until": ["\n"], "do_sample": False, "max_gen_toks": max_gen_toks},
        "metric_list": [
            {
                "metric": "exact_match",
                "aggregation": "mean",
                "higher_is_better": True,
                "regexes_to_ignore": ["^\\s+", "\\s+$"],
            }
        ],
        "metadata": {"version": 1.0},
    }
    (into / f"{name}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return name


class PlainGenerate:
    """``model.generate`` with a stop-string criterion over a test file, in file order."""

    def __init__(self, objective: Any, tokenizer: Any, batch_size: int) -> None:
        self.objective = objective
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.prompts = [prompt for prompt, _ in objective.examples]

    @torch.inference_mode()
    def right(self, model: Any) -> int:
        tokenizer, objective = self.tokenizer, self.objective
        side, tokenizer.padding_side = tokenizer.padding_side, "left"
        right = 0
        try:
            for start in range(0, len(self.prompts), self.batch_size):
                batch = tokenizer(self.prompts[start : start + self.batch_size], return_tensors="pt", padding=True)
                batch = batch.to(next(model.parameters()).device)
                out = model.generate(
                    **batch,
                    max_new_tokens=objective.max_new_tokens,
                    do_sample=False,
                    eos_token_id=objective.eos_id,
                    pad_token_id=objective.pad_id,
                    stop_strings=list(objective.matching.stop),
                    tokenizer=tokenizer,
                )[:, batch["input_ids"].shape[1] :]
                texts = objective._texts(out.cpu())
                right += sum(objective.matches(text, start + i) for i, text in enumerate(texts))
        finally:
            tokenizer.padding_side = side
        return right


def proposal_seconds(history: int, dims: int, repeats: int, clock: Callable[[], float]) -> float:
    """Median seconds of one qLogNEHVI proposal on ``history`` trials of three objectives."""
    from botorch.test_functions.multi_objective import DTLZ2
    from torch.quasirandom import SobolEngine

    from mmmo.search.pareto import infer_ref_point
    from mmmo.search.proposers import make_proposer

    X = SobolEngine(dims, scramble=True, seed=0).draw(history, dtype=torch.float64)
    # DTLZ2 needs more inputs than objectives: one constant input is added.
    Y = -DTLZ2(dim=dims + 1, num_objectives=3)(torch.cat([X, torch.full((history, 1), 0.5, dtype=X.dtype)], 1))
    empty = torch.empty(0, dims, dtype=torch.float64)
    ref = infer_ref_point(Y)
    seconds = []
    for seed in range(repeats):
        proposer = make_proposer("qlognehvi", seed=seed)
        proposer.propose(X[:-1], Y[:-1], empty, 1, ref)  # the previous trial's proposal warms its cache
        start = clock()
        proposer.propose(X, Y, empty, 1, ref)
        seconds.append(clock() - start)
    return statistics.median(seconds)


def run_real(args: Any) -> dict[str, Any]:
    """Measure everything; print a table and return the JSON summary."""
    import logging

    from mmmo.cache import cache_dir
    from mmmo.merge import Merger
    from mmmo.objectives import ExactMatch, LmEvalObjective
    from mmmo.objectives.certification import CertificationPolicy
    from mmmo.plan import MergePlan
    from mmmo.realzoo import RealZoo, RealZooConfig, real_zoo_dir
    from mmmo.sources import ModelPool

    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    clock = CLOCKS[args.clock]
    root = Path(args.zoo) if args.zoo else real_zoo_dir(RealZooConfig())
    if not (root / "manifest.json").is_file():
        raise SystemExit(f"no real zoo at {root} (cache {cache_dir()}); build it with `mmmo realzoo` first")
    zoo = RealZoo.load(root)
    tasks = list(zoo.expert_tasks)
    pool = ModelPool.load(zoo.base, dict(zoo.adapters))
    merger = Merger(pool, device=args.device)
    model, tokenizer = merger.model, merger.tokenizer
    print(
        f"real zoo {root.name}: tasks {tasks}, {args.limit} items each, {args.device}, "
        f"{torch.get_num_threads()} threads, batch size {args.batch_size}, {args.clock} clock"
    )

    def built(**options: Any) -> list[ExactMatch]:
        return [
            ExactMatch(task, zoo.tests[task], tokenizer, limit=args.limit, batch_size=args.batch_size, **options)
            for task in tasks
        ]

    mmmo_objectives = built()
    always = built(policy=CertificationPolicy(probe_every=1))  # certification on at every call
    never = built(certify=False)
    generators = [PlainGenerate(o, tokenizer, args.batch_size) for o in mmmo_objectives]
    rows = sum(len(o) for o in mmmo_objectives)
    folder = tempfile.TemporaryDirectory()
    lm_eval_objectives = [
        LmEvalObjective(
            f"lm_{o.name}",
            lm_eval_task(o.name, zoo.tests[o.name], o.max_new_tokens, Path(folder.name)),
            tokenizer,
            include_path=folder.name,
            limit=args.limit,
            batch_size=args.batch_size,
            add_bos_token=False,  # SmolLM2's tokenizer adds no BOS; the built-in path adds none either
        )
        for o in mmmo_objectives
    ]

    def score_all(objectives: list[Any]) -> float:
        right = 0.0
        for objective in objectives:
            measurement = objective.evaluate(model, tokenizer)
            if not measurement.ok:
                raise RuntimeError(f"{objective.name}: {measurement.error}")
            right += measurement.value * measurement.n
        return right / rows

    # The models: base, an expert, and merges found by score.
    n_sources = len(pool.names)
    expert = tasks[0]
    models: list[tuple[str, Callable[[], float]]] = [
        ("base", lambda: merger.apply_base() or 0.0),
        (f"expert {expert}", lambda: merger.apply_source(expert) or 0.0),
    ]
    merge_seconds: list[float] = []
    picked = 0
    for weights in MERGE_CANDIDATES:
        if picked == 2:
            break
        plan = MergePlan.uniform("task_arithmetic", list(pool.names), weight=list(weights[:n_sources]))
        start = clock()
        merger.apply(plan)
        merge_seconds.append(clock() - start)
        score = score_all(mmmo_objectives)
        print(f"candidate merge {weights}: score {score:.3f}")
        if 0.2 <= score <= 0.8:
            models.append((f"merge TA {weights}", lambda plan=plan: merger.apply(plan)))
            picked += 1
    if picked < 2:
        print("fewer than two candidate merges scored between 0.2 and 0.8")

    results = []
    for label, apply in models:
        apply()
        scores: dict[str, float] = {}

        def timed(name: str, objectives: list[Any]) -> Callable[[], None]:
            def call() -> None:
                scores[name] = score_all(objectives)

            return call

        def plain() -> None:
            scores["generate"] = sum(g.right(model) for g in generators) / rows

        with torch.inference_mode():
            seconds = interleaved_medians(
                {
                    "mmmo": timed("mmmo", mmmo_objectives),
                    "lmeval": timed("lmeval", lm_eval_objectives),
                    "generate": plain,
                    "certify_on": timed("certify_on", always),
                    "certify_off": timed("certify_off", never),
                },
                args.repeats,
                clock,
            )
        certified = sum(int(o.certified_rows(model).sum()) for o in always)
        equal = scores["mmmo"] == scores["lmeval"] == scores["generate"] == scores["certify_on"] == scores["certify_off"]
        row = {
            "model": label,
            "score": round(scores["mmmo"], 4),
            "scores_equal": equal,
            "certified": certified,
            "mmmo_eps": round(rows / seconds["mmmo"], 2),
            "lmeval_eps": round(rows / seconds["lmeval"], 2),
            "generate_eps": round(rows / seconds["generate"], 2),
            "vs_lmeval": round(seconds["lmeval"] / seconds["mmmo"], 2),
            "vs_generate": round(seconds["generate"] / seconds["mmmo"], 2),
            "mmmo_s": round(seconds["mmmo"], 3),
            "certify_on_s": round(seconds["certify_on"], 3),
            "certify_off_s": round(seconds["certify_off"], 3),
        }
        if not equal:
            row["all_scores"] = scores
        results.append(row)
        print(
            f"{label:32s} score {row['score']:.3f} (equal: {equal}) certified {certified:3d}/{rows} | "
            f"mmmo {row['mmmo_eps']:7.1f}/s  lm-eval {row['lmeval_eps']:7.1f}/s  generate {row['generate_eps']:7.1f}/s"
            f" | x{row['vs_lmeval']:.2f} lm-eval, x{row['vs_generate']:.2f} generate"
            f" | certify on {row['certify_on_s']:.2f} s, off {row['certify_off_s']:.2f} s",
            flush=True,
        )
    folder.cleanup()

    merge_s = statistics.median(merge_seconds) if merge_seconds else 0.0
    dims = n_sources
    propose_s = proposal_seconds(args.history, dims, args.repeats, clock)
    merges = [r for r in results if r["model"].startswith("merge")]
    eval_s = statistics.median(r["mmmo_s"] for r in merges) if merges else float("nan")
    share = eval_s / (merge_s + eval_s + propose_s)
    print(
        f"trial on a merge: merge {merge_s:.3f} s + evaluation {eval_s:.3f} s + proposal {propose_s:.3f} s "
        f"(qLogNEHVI, {args.history} trials, {dims} dims): evaluation {share:.0%} of the trial"
    )
    targets = {
        "merges_vs_lmeval_ge_2": all(r["vs_lmeval"] >= 2 for r in merges),
        "merges_vs_generate_ge_1_5": all(r["vs_generate"] >= 1.5 for r in merges),
        "eval_share_lt_0_8": share < 0.8,
    }
    print("targets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in targets.items()))
    return {
        "mode": "real",
        "zoo": root.name,
        "device": args.device,
        "threads": torch.get_num_threads(),
        "clock": args.clock,
        "items_per_task": args.limit,
        "rows": rows,
        "models": results,
        "merge_s": round(merge_s, 3),
        "proposal_s": round(propose_s, 3),
        "eval_share_of_trial": round(share, 3),
        "scores_equal": all(r["scores_equal"] for r in results),
        "targets": targets,
    }
