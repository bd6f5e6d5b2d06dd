"""Build the demo zoo once and cache it on disk.

``build_zoo(config)`` returns the zoo in
``mmmo.cache.cache_dir() / "zoo" / config.cache_key()``, built by
:func:`mmmo.zoo.cached_build.build_cached`: into a temporary folder beside it,
renamed into place only when complete, under a lock, so a killed build never
leaves a folder that looks finished and two processes never build it twice.

Layout of a zoo folder::

    manifest.json             settings, seeds, versions, build time, scores
    base/                     HF checkpoint (safetensors, config, tokenizer)
    experts/<task>/           one HF checkpoint per expert task
    data/<task>/train.jsonl   {"prompt", "answer"} per line
    data/<task>/test.jsonl
    data/pretrain.jsonl       the base's training mix (primitives + noise)
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import transformers
from tqdm.auto import tqdm

from mmmo.cache import cache_dir
from mmmo.errors import ZooError
from mmmo.zoo.cached_build import build_cached
from mmmo.zoo.config import ZOO_FORMAT_VERSION, ZooConfig
from mmmo.zoo.evaluate import EVALUATOR, TaskScorer
from mmmo.zoo.manifest import MANIFEST, manifest_scores, read_manifest, write_manifest
from mmmo.zoo.data import make_splits
from mmmo.zoo.determinism import deterministic, sub_seed
from mmmo.zoo.tasks import get_task, write_jsonl
from mmmo.zoo.tokenizer import build_tokenizer
from mmmo.zoo.train import encode_examples, new_model, train


@dataclass(frozen=True)
class ZooTask:
    """One task of the zoo: its JSONL splits and whether an expert learned it."""

    name: str
    train: Path
    test: Path
    has_expert: bool


@dataclass(frozen=True)
class Zoo:
    """A built zoo: paths of its checkpoints and data, and its manifest.

    Attributes:
        root: The zoo's folder.
        base: HF checkpoint dir of the base model (tokenizer included).
        experts: Task name -> HF checkpoint dir of the expert fine-tuned on it.
        tasks: Task name -> :class:`ZooTask`, expert tasks and held-out ones.
        expert_tasks: Names of tasks with an expert, in config order.
        held_out_tasks: Names of tasks no model was fine-tuned on.
        manifest: The parsed ``manifest.json`` (settings, seeds, scores).
    """

    root: Path
    base: Path
    experts: dict[str, Path]
    tasks: dict[str, ZooTask]
    expert_tasks: tuple[str, ...]
    held_out_tasks: tuple[str, ...]
    manifest: dict[str, Any]

    @property
    def models(self) -> dict[str, Path]:
        """``"base"`` and every expert name -> checkpoint dir."""
        return {"base": self.base, **self.experts}

    def scores(self, metric: str = "exact_match") -> dict[str, dict[str, float]]:
        """Model name -> task name -> ``metric`` as measured at build time."""
        return manifest_scores(self.manifest, metric)

    @classmethod
    def load(cls, root: str | Path) -> Zoo:
        """Open a built zoo folder (one with a ``manifest.json``)."""
        root = Path(root)
        manifest = read_manifest(root, "zoo")
        try:
            expert_tasks = tuple(manifest["config"]["expert_tasks"])
            held_out = tuple(manifest["config"]["held_out_tasks"])
        except KeyError as error:
            raise ZooError(f"{root / MANIFEST} is not a zoo manifest: {error}") from error
        tasks = {
            name: ZooTask(
                name,
                root / "data" / name / "train.jsonl",
                root / "data" / name / "test.jsonl",
                has_expert=name in expert_tasks,
            )
            for name in expert_tasks + held_out
        }
        experts = {name: root / "experts" / name for name in expert_tasks}
        return cls(root, root / "base", experts, tasks, expert_tasks, held_out, manifest)


def zoo_dir(config: ZooConfig) -> Path:
    """Where ``build_zoo(config)`` keeps its zoo."""
    return cache_dir() / "zoo" / config.cache_key()


def build_zoo(config: ZooConfig | None = None, progress: bool = True) -> Zoo:
    """The zoo of ``config`` (default :class:`ZooConfig`), built on first use.

    A second call with the same settings returns the cached zoo at once; any
    changed setting gives a different cache key and a new build.
    """
    config = config or ZooConfig()
    return build_cached(
        zoo_dir(config), MANIFEST, lambda staging: _build_into(staging, config, progress), Zoo.load
    )


@contextlib.contextmanager
def _hf_progress_bars(enabled: bool) -> Iterator[None]:
    """transformers' own bars (one per saved file) only when progress is wanted."""
    from transformers.utils import logging as hf_logging

    previous = hf_logging.is_progress_bar_enabled()
    if not enabled:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if previous:
            hf_logging.enable_progress_bar()


def _build_into(root: Path, config: ZooConfig, progress: bool) -> None:
    started = time.perf_counter()
    splits = make_splits(config)
    for name in config.tasks:
        write_jsonl(splits.train[name], root / "data" / name / "train.jsonl")
        write_jsonl(splits.test[name], root / "data" / name / "test.jsonl")
    write_jsonl(splits.pretrain, root / "data" / "pretrain.jsonl")

    tokenizer = build_tokenizer()
    pretrain = encode_examples(splits.pretrain, tokenizer)
    seeds = {"init": sub_seed(config.seed, "init"), "pretrain": sub_seed(config.seed, "pretrain")}
    seeds.update({f"finetune:{t}": sub_seed(config.seed, f"finetune:{t}") for t in config.expert_tasks})
    total = config.pretrain_steps + config.finetune_steps * len(config.expert_tasks)
    bar = tqdm(total=total, desc="zoo: base", unit="step", disable=not progress)
    timings: dict[str, float] = {}
    with deterministic(), bar:
        clock = time.perf_counter()
        base = new_model(
            tokenizer,
            config.hidden_size,
            config.num_layers,
            config.num_heads,
            config.intermediate_size,
            max_positions=4 * config.max_len + 32,
            seed=seeds["init"],
        )
        train(
            base,
            pretrain,
            config.pretrain_steps,
            config.pretrain_lr,
            config.batch_size,
            seeds["pretrain"],
            config.weight_decay,
            progress=bar,
        )
        timings["pretrain"] = time.perf_counter() - clock
        models = {"base": base}
        for name in config.expert_tasks:
            bar.set_description(f"zoo: {name}")
            clock = time.perf_counter()
            expert = copy.deepcopy(base)
            train(
                expert,
                encode_examples(splits.train[name], tokenizer),
                config.finetune_steps,
                config.finetune_lr,
                config.batch_size,
                seeds[f"finetune:{name}"],
                config.weight_decay,
                replay=pretrain,
                replay_fraction=config.replay_fraction,
                progress=bar,
            )
            timings[f"finetune:{name}"] = time.perf_counter() - clock
            models[name] = expert

        clock = time.perf_counter()
        scorers = [TaskScorer(t, root / "data" / t / "test.jsonl", tokenizer) for t in config.tasks]
        scores = {
            model_name: {scorer.name: scorer(model).to_dict() for scorer in scorers}
            for model_name, model in models.items()
        }
        timings["evaluate"] = time.perf_counter() - clock

    with _hf_progress_bars(progress):
        for model_name, model in models.items():
            out = root / "base" if model_name == "base" else root / "experts" / model_name
            model.save_pretrained(out)
            tokenizer.save_pretrained(out)
    timings["total"] = time.perf_counter() - started
    manifest = {
        "format_version": ZOO_FORMAT_VERSION,
        "cache_key": config.cache_key(),
        "config": config.to_dict(),
        "seeds": seeds,
        "tasks": {
            name: {
                "keyword": get_task(name).keywords[0],
                "has_expert": name in config.expert_tasks,
                "train_examples": len(splits.train[name]),
                "test_examples": len(splits.test[name]),
            }
            for name in config.tasks
        },
        "pretrain_tasks": {name: list(get_task(name).keywords) for name in config.pretrain_tasks},
        "evaluator": EVALUATOR,
        "scores": scores,
        "seconds": timings,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }
    write_manifest(root, manifest)
