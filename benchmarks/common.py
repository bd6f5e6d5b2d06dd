"""The one evaluation function every benchmarked method shares: merge, score, cache.

A :class:`MergeProblem` is one campaign config's problem: its base and
source models, its search space, its searched objectives (every one
maximised, e.g. accuracies in ``[0, 1]``) and, kept apart from the search,
its report-only objectives. Built in: the demo campaign (see :mod:`mmmo.demo`)
on the demo or tiny zoo: the zoo's base and experts, the model-level
``dare_ties`` space (a weight and a density per expert), and one greedy
exact-match objective per expert task on its test split, ``limit`` examples
each (the demo's 100 by default). Any other campaign config (``--config``)
gives the benchmarks a problem they have never seen: the real zoo's, a
user's own.

Evaluations are cached by the unit-cube point rounded to ``DIGITS`` decimals
(the DARE masks are seeded by a fixed plan seed, so a point always merges to
the same bits): a point that any method already evaluated is not computed
again, and its first cost (merge + evaluation seconds) is kept with it so a
method that meets it again is still shown what it would have cost. With
``cache_file`` the cache is also appended to a JSON-lines file, so a rerun or
:mod:`front_quality` reuses the points of an earlier run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

RESULTS_DIR = Path(__file__).resolve().parent / "results"
#: ``--zoo`` names: the demo zoo, and the ``ZooConfig`` class methods of the others.
ZOOS = ("default", "tiny", "deep")
#: Decimals of the cache key; far below any change the merge could notice.
DIGITS = 6
#: Seed of every plan's random masks, so a point has one score.
PLAN_SEED = 0


@dataclass(frozen=True)
class Evaluation:
    """Scores of one merge.

    Attributes:
        values: ``m`` accuracies, objective order (``nan`` where an objective failed).
        seconds: Merge plus evaluation wall time when it was first computed.
        cached: Whether this call found it in the cache.
    """

    values: tuple[float, ...]
    seconds: float
    cached: bool


def problem_key(x: Sequence[float]) -> str:
    """Cache key of a unit-cube point (rounded coordinates)."""
    return "x:" + ",".join(f"{min(max(float(v), 0.0), 1.0):.{DIGITS}f}" for v in x)


def plan_key(plan) -> str:
    """Cache key of a merge plan that is not a point of the space (recipes)."""
    return "plan:" + json.dumps(plan.to_dict(), sort_keys=True)


class MergeProblem:
    """Merge + evaluate one campaign's problem, cached.

    Args:
        zoo_name: ``default`` (:class:`~mmmo.zoo.ZooConfig`) or ``tiny``
            (``ZooConfig.tiny()``): the demo campaign on that zoo.
        limit: Test examples scored per task (``None``: the demo's, or the
            config's own ``limit`` with ``config``).
        cache_file: JSON-lines file the cache is read from and appended to.
        extra_tasks: Zoo tasks scored besides the objectives' (e.g. the held-out
            task); their scores are kept apart and never shown to a search method.
        config: Any campaign config (its base, models, space and objectives)
            instead of a built-in zoo. Its searched objectives are the problem's;
            its ``report_only`` ones are the extra tasks.
    """

    def __init__(
        self,
        zoo_name: str = "default",
        limit: int | None = None,
        cache_file: Path | None = None,
        extra_tasks: Sequence[str] = (),
        space: str | None = None,
        config=None,
    ) -> None:
        from mmmo.merge import Merger
        from mmmo.objectives import build_objectives
        from mmmo.search.space import SearchSpace
        from mmmo.sources import ModelPool

        if config is None:
            config, self.zoo = _demo_problem(zoo_name, limit, extra_tasks, space)
        else:
            self.zoo = None
            if limit is not None:
                config = with_limit(config, limit)
        self.config = config
        searched, reported = config.searched_objectives, config.reported_objectives
        limits = {spec.limit for spec in searched}
        self.limit = limits.pop() if len(limits) == 1 else None
        # Names the problem in reports; runs files of different problems are never combined.
        self.name = zoo_name if self.zoo is not None else f"{config.name}-{problem_hash(config)}"
        self.tasks: tuple[str, ...] = tuple(spec.resolved_name for spec in searched)
        self.extra_tasks = tuple(spec.resolved_name for spec in reported)
        self.sources: tuple[str, ...] = config.model_names
        pool = ModelPool.load(config.base, {m.display_name: m.path for m in config.models})
        self.merger = Merger(pool)
        self.space = SearchSpace(config.space, pool.names, layout=pool.layout)
        # The preset's name when one was given, else the space in words.
        self.space_name = space if space is not None else self.space_label
        self.objectives = build_objectives(list(searched), self.merger.tokenizer, pool.base_state)
        self.extra_objectives = build_objectives(list(reported), self.merger.tokenizer, pool.base_state)
        for spec, objective in zip(searched, self.objectives):
            if objective.direction != "maximize":
                raise ValueError(f"{spec.resolved_name}: the benchmarks compare maximised scores; "
                                 f"this objective is {objective.direction}d")
        self.cache_file = cache_file
        self._cache: dict[str, dict] = {}
        if cache_file is not None and cache_file.is_file():
            for line in cache_file.read_text().splitlines():
                if line.strip():
                    entry = json.loads(line)
                    self._cache[entry["key"]] = entry
        self.computed = 0  # merges evaluated by this process (cache misses)

    @property
    def space_label(self) -> str:
        """The space in words: ``dare_ties model-level``."""
        space = self.config.space
        granularity = space.granularity.kind
        if granularity == "blocks":
            granularity += f":{space.granularity.blocks}"
        return f"{'/'.join(space.methods)} {granularity}-level"

    @property
    def dim(self) -> int:
        return self.space.dim

    @property
    def num_objectives(self) -> int:
        return len(self.tasks)

    # -- evaluation ---------------------------------------------------------

    def __call__(self, x: Sequence[float]) -> Evaluation:
        """Scores of the unit-cube point ``x`` (``d``), from the cache when it was seen."""
        return self.in_space(self.space)(x)

    def in_space(self, space) -> Callable[[Sequence[float]], Evaluation]:
        """The evaluation function of points of another space over the same models (cached apart)."""
        prefix = "" if space is self.space else f"{space.describe()}|"

        def evaluate(x: Sequence[float]) -> Evaluation:
            return self._cached(prefix + problem_key(x),
                                lambda: self.merger.apply(space.decode(torch.as_tensor(x), PLAN_SEED)))

        return evaluate

    def cached_values(self, x: Sequence[float]) -> tuple[float, ...] | None:
        """The cached scores of the point ``x``, ``None`` when it was never evaluated."""
        entry = self._cache.get(problem_key(x))
        return None if entry is None else tuple(entry["values"])

    def evaluate_plan(self, plan) -> Evaluation:
        """Scores of any merge plan over the zoo's experts (recipes)."""
        return self._cached(plan_key(plan), lambda: self.merger.apply(plan))

    def evaluate_expert(self, name: str) -> Evaluation:
        """Scores of one expert (or ``base``) unmerged."""
        apply = self.merger.apply_base if name == "base" else (lambda: self.merger.apply_source(name))
        return self._cached(f"model:{name}", apply)

    def extra_scores(self, x_or_plan) -> dict[str, float]:
        """The extra tasks' scores of a point or plan (cached like the objectives)."""
        if isinstance(x_or_plan, (list, tuple, np.ndarray, torch.Tensor)):
            key, apply = problem_key(x_or_plan), lambda: self.merger.apply(
                self.space.decode(torch.as_tensor(x_or_plan), PLAN_SEED)
            )
        else:
            key, apply = plan_key(x_or_plan), lambda: self.merger.apply(x_or_plan)
        self._cached(key, apply)
        entry = self._cache[key]
        if any(t not in entry["extra"] for t in self.extra_tasks):
            from mmmo.objectives import evaluate_objectives

            apply()
            scores = evaluate_objectives(self.extra_objectives, self.merger.model, self.merger.tokenizer)
            entry = {**entry, "extra": {**entry["extra"], **{n: _value(m) for n, m in scores.items()}}}
            self._store(entry)
        return {t: entry["extra"][t] for t in self.extra_tasks}

    def _cached(self, key: str, apply) -> Evaluation:
        from mmmo.objectives import evaluate_objectives

        entry = self._cache.get(key)
        if entry is not None:
            return Evaluation(tuple(entry["values"]), entry["seconds"], cached=True)
        start = time.perf_counter()
        apply()
        measured = evaluate_objectives(self.objectives, self.merger.model, self.merger.tokenizer)
        seconds = time.perf_counter() - start
        extra = {}
        if self.extra_objectives:
            scores = evaluate_objectives(self.extra_objectives, self.merger.model, self.merger.tokenizer)
            extra = {name: _value(m) for name, m in scores.items()}
        values = [_value(measured[t]) for t in self.tasks]
        self.computed += 1
        self._store({"key": key, "values": values, "seconds": seconds, "extra": extra})
        return Evaluation(tuple(values), seconds, cached=False)

    def _store(self, entry: dict) -> None:
        self._cache[entry["key"]] = entry
        if self.cache_file is not None:
            # Appended, so a later line of the same key wins when the file is read back.
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            with self.cache_file.open("a") as handle:
                handle.write(json.dumps(entry) + "\n")


def _value(measurement) -> float:
    return float("nan") if measurement.value is None else float(measurement.value)


#: Changes whenever the same plan would merge to other weights (a new DARE mask
#: stream, say), so a cache of scores never outlives the merges it scored.
MERGE_FORMAT = "hashmask1"


def default_cache_file(zoo_name: str, limit: int | None, config=None, space: str | None = None) -> Path:
    """Where the evaluation cache of a zoo (or campaign config), example limit, space and merge format lives by default.

    A config's cache is named by :func:`problem_hash`: the same models, space
    and searched objectives share it, whatever the file is called.
    """
    from mmmo.demo import DEMO_LIMIT, DEMO_SPACE

    if config is not None:
        if limit is not None:
            config = with_limit(config, limit)
        return RESULTS_DIR / f"eval_cache_{config.name}-{problem_hash(config)}_{MERGE_FORMAT}.jsonl"
    limit = DEMO_LIMIT if limit is None else limit
    named = "" if space in (None, DEMO_SPACE) else f"_{Path(space).stem}"
    return RESULTS_DIR / f"eval_cache_{zoo_name}{named}_limit{limit}_{MERGE_FORMAT}.jsonl"


def problem_hash(config) -> str:
    """12 hex digits naming what a cached score depends on: base, models, space, searched objectives.

    Report-only objectives are left out: their scores are added to a cached
    entry when first asked for, so adding one does not void the cache.
    """
    import hashlib

    data = config.model_dump(mode="json", include={"base", "models", "space", "device", "dtype", "seed"})
    data["objectives"] = [spec.model_dump(mode="json") for spec in config.searched_objectives]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def with_limit(config, limit: int):
    """``config`` with every data objective scoring ``limit`` examples (``--limit``)."""
    from mmmo.config import parse_config

    data = config.model_dump(mode="json")
    for spec in data["objectives"]:
        if spec.get("data") is not None:
            spec["limit"] = limit
    return parse_config(data, source=f"{config.name} with --limit {limit}")


def searched_only(config):
    """``config`` without its report-only objectives (a search never needs their scores)."""
    from mmmo.config import parse_config

    data = config.model_dump(mode="json")
    data["objectives"] = [spec for spec in data["objectives"] if not spec.get("report_only")]
    return parse_config(data, source=config.name)


def load_problem_config(path: Path):
    """The campaign config of ``--config`` (validated; every error names the field)."""
    from mmmo.config import load_config

    return load_config(path)


def zoo_config(zoo_name: str):
    """The :class:`~mmmo.zoo.ZooConfig` a ``--zoo`` name stands for (one of :data:`ZOOS`)."""
    from mmmo.zoo import ZooConfig

    if zoo_name not in ZOOS:
        raise ValueError(f"--zoo: expected one of {', '.join(ZOOS)}, got {zoo_name!r}")
    return ZooConfig() if zoo_name == "default" else getattr(ZooConfig, zoo_name)()


def _demo_problem(zoo_name: str, limit: int | None, extra_tasks: Sequence[str], space: str | None = None):
    """The demo campaign's config on a built-in zoo (in ``space``, a preset or
    YAML, instead of the demo's), with ``extra_tasks`` as report-only objectives."""
    from mmmo.config import load_space, parse_config
    from mmmo.demo import DEMO_LIMIT, demo_config
    from mmmo.zoo import build_zoo

    zoo = build_zoo(zoo_config(zoo_name), progress=False)
    data = demo_config(zoo, limit=DEMO_LIMIT if limit is None else limit).model_dump(mode="json")
    if space is not None:
        data["space"] = load_space(space).model_dump(mode="json")
    data["objectives"] += [
        {"kind": "exact_match", "name": t, "data": str(zoo.tasks[t].test), "limit": data["objectives"][0]["limit"],
         "report_only": True}
        for t in extra_tasks
    ]
    return parse_config(data, source=f"the demo problem on the {zoo_name} zoo"), zoo


def json_ready(value):
    """Replace non-finite floats by ``None`` (so the last line is strict JSON)."""
    if isinstance(value, Mapping):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
