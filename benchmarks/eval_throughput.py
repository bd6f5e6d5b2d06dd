"""Built-in exact match against lm-eval's ``generate_until`` on the same examples.

On one zoo expert and its task's test split, both paths score the live model:

- built-in: :class:`mmmo.objectives.ExactMatch` (pre-tokenized, pre-padded,
  length-sorted batches kept on the model's device; greedy decoding in a loop
  over the model's KV cache, a batch stopping when every row has hit EOS);
- lm-eval: :class:`mmmo.objectives.LmEvalObjective` on the repository's zoo
  YAML task (``objectives/zoo/``, pointed at the same test file), i.e.
  ``lm_eval.evaluator.evaluate`` with ``HFLM`` around the same model object.

Both use the same batch size and generation cap (the YAML's ``max_gen_toks``).
Figures: examples per second of each (median of ``--repeats`` timed calls after
one warm-up call; the paths take turns), the score of each (asserted equal),
the per-call time of each on a one-example set (fixed overhead), and, for
reference, the built-in objective decoding every row (``certify=False``: no
teacher-forced certification of right answers) and its batches decoded with
``model.generate`` instead of the cache loop. An expert is right on nearly
every row, which is certification's best case; ``--merged`` scores a
task-arithmetic merge of the expert with the next one (weight 1 each), which
gets part of the rows right. The last
line is one JSON object with ``builtin_eps``, ``lmeval_eps``, ``speedup`` and
``scores_equal``.

    python benchmarks/eval_throughput.py            # default zoo, first expert task
    python benchmarks/eval_throughput.py --merged   # a merge with partial accuracy
    python benchmarks/eval_throughput.py --tiny     # the test zoo (quick check)
    python benchmarks/eval_throughput.py --model DIR --data test.jsonl   # any checkpoint
    python benchmarks/eval_throughput.py --real     # the real zoo (SmolLM2 + LoRA experts)

``--real`` measures on the real zoo instead: the base, an expert and two
merges, against lm-eval and plain ``model.generate``, and the evaluation's
share of a trial; see ``benchmarks/eval_throughput_real.py``.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch
import yaml

from mmmo.resources import zoo_tasks_dir

REPO_TASKS = zoo_tasks_dir()


def interleaved_medians(functions: dict[str, object], repeats: int) -> dict[str, float]:
    """Median seconds per call of each function, called in turn ``repeats`` times
    after one untimed warm-up call each; taking turns keeps a change in machine
    load from favouring one of them."""
    for function in functions.values():
        function()
    seconds: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            seconds[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in seconds.items()}


def task_folder(task: str, test_file: Path, into: Path) -> str:
    """The repository's zoo task YAMLs, with ``zoo_<task>`` reading ``test_file``."""
    for path in REPO_TASKS.glob("_*.yaml"):
        shutil.copy(path, into / path.name)
    name = f"zoo_{task}"
    config = yaml.safe_load((REPO_TASKS / f"{name}.yaml").read_text())
    config["dataset_kwargs"]["data_files"]["test"] = str(test_file.resolve())
    (into / f"{name}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return name


def generate_decode(objective, model) -> list[str]:
    """The built-in objective's batches decoded with ``model.generate`` (for comparison)."""
    from mmmo.objectives.batches import model_device

    outputs = [""] * len(objective.examples)
    for batch in objective.batches(model_device(model)):
        rows = len(batch.rows)
        input_ids = torch.cat([batch.shared.expand(rows, -1), batch.input_ids], dim=1)  # the shared prefix back
        out = model.generate(
            input_ids=input_ids,
            attention_mask=batch.prompt_mask(),
            max_new_tokens=objective.max_new_tokens,
            do_sample=False,
            eos_token_id=objective.eos_id,
            pad_token_id=objective.pad_id,
        )[:, input_ids.shape[1] :]
        for row, ids in zip(batch.rows.tolist(), out.tolist(), strict=True):
            if objective.eos_id in ids:
                ids = ids[: ids.index(objective.eos_id)]
            outputs[row] = objective.tokenizer.decode(ids, skip_special_tokens=True)
    return outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="use the test zoo (quick check)")
    parser.add_argument("--task", default=None, help="zoo expert task (default: the first)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--merged", action="store_true", help="score a merge of two zoo experts")
    parser.add_argument("--model", type=Path, help="an HF checkpoint dir instead of a zoo expert")
    parser.add_argument("--data", type=Path, help="its JSONL test file (prompt, answer), with --model")
    parser.add_argument("--real", action="store_true", help="the real zoo: base, expert, two merges, three paths")
    parser.add_argument("--zoo", default=None, help="with --real: a real zoo folder (default: the cached one)")
    parser.add_argument("--limit", type=int, default=64, help="with --real: test items per task")
    parser.add_argument("--history", type=int, default=30, help="with --real: trials behind the timed proposal")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help="with --real: what seconds count")
    args = parser.parse_args()
    if args.real:
        if args.threads:
            torch.set_num_threads(args.threads)
        from eval_throughput_real import run_real

        print(json.dumps(run_real(args)))
        return
    if (args.model is None) != (args.data is None):
        parser.error("--model and --data go together")
    if args.threads:
        torch.set_num_threads(args.threads)

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mmmo.objectives import ExactMatch, LmEvalObjective
    from mmmo.zoo import ZooConfig, build_zoo

    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    if args.model is None:
        zoo = build_zoo(ZooConfig.tiny() if args.tiny else ZooConfig(), progress=True)
        task = args.task or zoo.expert_tasks[0]
        checkpoint, test_file = zoo.experts[task], zoo.tasks[task].test
    else:
        task, checkpoint, test_file = args.task or "shift2", args.model, args.data
    if args.merged:
        if args.model is not None:
            parser.error("--merged works on the zoo, not with --model")
        from mmmo.merge import Merger
        from mmmo.plan import MergePlan
        from mmmo.sources import ModelPool

        other = zoo.expert_tasks[(zoo.expert_tasks.index(task) + 1) % len(zoo.expert_tasks)]
        pool = ModelPool.load(zoo.base, {task: zoo.experts[task], other: zoo.experts[other]})
        merger = Merger(pool, device=args.device)
        merger.apply(MergePlan.uniform("task_arithmetic", [task, other], weight=1.0))
        model, tokenizer, checkpoint = merger.model, merger.tokenizer, f"{task} + {other} (task arithmetic)"
    else:
        model = AutoModelForCausalLM.from_pretrained(checkpoint).to(args.device).eval()
        tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    size = sum(p.numel() for p in model.parameters())
    print(f"model: {checkpoint} ({size} parameters) on {args.device}, {torch.get_num_threads()} threads")

    with tempfile.TemporaryDirectory() as folder:
        name = task_folder(task, test_file, Path(folder))
        cap = yaml.safe_load((REPO_TASKS / "_zoo_exact_match.yaml").read_text())["generation_kwargs"][
            "max_gen_toks"
        ]
        common = {"batch_size": args.batch_size}
        builtin = ExactMatch("builtin", test_file, tokenizer, max_new_tokens=cap, **common)
        decode_all = ExactMatch("decode_all", test_file, tokenizer, max_new_tokens=cap, certify=False, **common)
        lmeval = LmEvalObjective("lmeval", name, tokenizer, include_path=folder, **common)
        builtin_one = ExactMatch("builtin1", test_file, tokenizer, max_new_tokens=cap, limit=1, **common)
        lmeval_one = LmEvalObjective("lmeval1", name, tokenizer, include_path=folder, limit=1, **common)
        n = len(builtin)
        print(f"task: {task}, {n} examples, batch size {args.batch_size}, max new tokens {cap}")

        scores = {}

        def run(objective):
            def call():
                measurement = objective.evaluate(model, tokenizer)
                assert measurement.ok, measurement.error
                scores[objective.name] = measurement.value

            return call

        with torch.inference_mode():
            full = interleaved_medians(
                {
                    "builtin": run(builtin),
                    "lmeval": run(lmeval),
                    "decode_all": run(decode_all),
                    "generate": lambda: generate_decode(builtin, model),
                },
                args.repeats,
            )
            one = interleaved_medians({"builtin": run(builtin_one), "lmeval": run(lmeval_one)}, args.repeats)
            same_outputs = generate_decode(builtin, model) == builtin.predict(model)
        builtin_s, lmeval_s, generate_s = full["builtin"], full["lmeval"], full["generate"]
        builtin_one_s, lmeval_one_s = one["builtin"], one["lmeval"]

    scores_equal = (
        scores["builtin"] == scores["lmeval"] == scores["decode_all"] and scores["builtin1"] == scores["lmeval1"]
    )
    builtin_eps, lmeval_eps = n / builtin_s, n / lmeval_s
    for label, eps, seconds, key in (
        ("built-in exact match:  ", builtin_eps, builtin_s, "builtin"),
        ("lm-eval generate_until:", lmeval_eps, lmeval_s, "lmeval"),
    ):
        print(f"{label} {eps:10.1f} examples/s  ({seconds:.3f} s/call)  score {scores[key]:.4f}")
    print(f"built-in, every row decoded:  {n / full['decode_all']:10.1f} examples/s")
    print(
        f"built-in batches via model.generate: {n / generate_s:.1f} examples/s (same outputs: {same_outputs})"
    )
    print(
        f"per call on 1 example: built-in {builtin_one_s * 1e3:.1f} ms, lm-eval {lmeval_one_s * 1e3:.1f} ms"
    )
    assert scores_equal, f"scores differ: {scores}"
    print(
        json.dumps(
            {
                "task": task,
                "examples": n,
                "device": args.device,
                "builtin_eps": round(builtin_eps, 2),
                "lmeval_eps": round(lmeval_eps, 2),
                "speedup": round(builtin_eps / lmeval_eps, 2),
                "scores_equal": scores_equal,
                "builtin_score": scores["builtin"],
                "lmeval_score": scores["lmeval"],
                "decode_all_eps": round(n / full["decode_all"], 2),
                "generate_eps": round(n / generate_s, 2),
                "builtin_call_1_ms": round(builtin_one_s * 1e3, 2),
                "lmeval_call_1_ms": round(lmeval_one_s * 1e3, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
