"""Any lm-eval task, scored on the live in-memory model.

The task objects (data loaded, prompts configured) are built once, when the
objective is built; each trial wraps the live model in lm-eval's ``HFLM``
(kept while the model object and its device stay the same) and calls
``lm_eval.evaluator.evaluate``, so no checkpoint is written and every trial
scores the weights the merger has just written. lm-eval is imported here only.

Local YAML tasks come from ``include_path``. lm-eval 0.4 resolves a relative
``dataset_kwargs.data_files`` path against the working directory, not the
YAML's folder, so the YAML files are copied into mmmo's cache with such paths
made absolute against the YAML's folder (see :func:`localize_task_dir`); the
files in ``include_path`` are left as written.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from mmmo.cache import cache_dir
from mmmo.errors import ObjectiveError
from mmmo.objectives.base import Direction, Measurement
from mmmo.objectives.data import subsample_indices
from mmmo.objectives.guard import measure
from mmmo.objectives.prompts import PromptFormat
from mmmo.quiet import progress_bars_dropped


class LmEvalObjective:
    """One metric of one lm-eval task.

    Args:
        name: Objective name.
        task: An lm-eval task name (built in, or defined in ``include_path``).
        tokenizer: The tokenizer handed to ``HFLM``.
        metric: Metric name (``"exact_match"``), or ``"metric,filter"`` where the
            task has several filters; default: the task's only metric.
        include_path: Folder of YAML task files.
        limit: Score a deterministic subsample of this many documents (the
            same indices as the built-in objectives' ``limit``).
        seed: Seed of the subsample.
        batch_size: ``HFLM`` batch size.
        direction: Overrides the direction from lm-eval's ``higher_is_better``.
        add_bos_token: Passed to ``HFLM``; ``True`` follows mmmo's convention
            (prompts tokenized with the tokenizer's special tokens).
        bootstrap_iters: lm-eval's bootstrap draws for standard errors of
            metrics without a closed form (a mean has one and needs none).
        chat_template: Render each request with the tokenizer's chat template
            (lm-eval's ``apply_chat_template``); the template writes its own
            BOS, so none is added on top.
        system_prompt: lm-eval's ``system_instruction`` (needs ``chat_template``).
    """

    def __init__(
        self,
        name: str,
        task: str,
        tokenizer: Any,
        metric: str | None = None,
        include_path: str | Path | None = None,
        limit: int | None = None,
        seed: int = 0,
        batch_size: int = 64,
        direction: Direction | None = None,
        add_bos_token: bool = True,
        bootstrap_iters: int = 100,
        chat_template: bool = False,
        system_prompt: str | None = None,
    ) -> None:
        PromptFormat(chat_template=chat_template, system_prompt=system_prompt).check(tokenizer, f"objective {name!r}")
        self.chat_template = chat_template
        self.system_prompt = system_prompt
        self.name = name
        self.task = task
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.add_bos_token = add_bos_token and not chat_template
        self.bootstrap_iters = bootstrap_iters
        self._task_dict = _build_task_dict(task, include_path)
        task_object = self._task_dict["tasks"][task]
        self.metric, self.filter = _pick_metric(task, task_object, metric)
        higher_is_better = task_object.higher_is_better().get(self.metric)
        if direction is None and higher_is_better is None:
            raise ObjectiveError(
                f"lm_eval task {task!r}: metric {self.metric!r} has no higher_is_better; set 'direction'"
            )
        self.direction: Direction = direction or ("maximize" if higher_is_better else "minimize")
        count = len(task_object.eval_docs)
        self.indices = subsample_indices(count, limit, seed) if limit is not None else None
        self.num_docs = len(self.indices) if self.indices is not None else count
        # A metric aggregated by its mean can be scored on a subset of documents and combined.
        aggregation = task_object.aggregation().get(self.metric)
        self.subsets = getattr(aggregation, "__name__", None) == "mean"
        self._lm: Any = None

    def __len__(self) -> int:
        return self.num_docs

    def example_scores(self, model: Any, rows: list[int] | None = None) -> Any:
        """The metric of each document of ``rows`` (indices into this objective's documents), in that order.

        lm-eval scores only those documents (``samples``) and logs each one's
        value (``log_samples``); only a metric aggregated by its mean has such values.
        """
        import torch
        from lm_eval.evaluator import evaluate

        if not self.subsets:
            raise ObjectiveError(f"lm_eval task {self.task!r}: metric {self.metric!r} is not a mean over documents")
        rows = list(range(self.num_docs)) if rows is None else list(rows)
        docs = [self.indices[i] if self.indices is not None else i for i in rows]
        with progress_bars_dropped():
            results = evaluate(
                self._wrapper(model),
                self._task_dict,
                samples={self.task: docs},
                bootstrap_iters=0,
                log_samples=True,
                apply_chat_template=self.chat_template,
                system_instruction=self.system_prompt,
            )
        values = {
            sample["doc_id"]: float(sample[self.metric])
            for sample in results["samples"][self.task]
            if sample.get("filter", self.filter) == self.filter
        }
        return torch.tensor([values[doc] for doc in docs], dtype=torch.float64)

    def evaluate(self, model: Any, tokenizer: Any = None) -> Measurement:
        return measure(lambda: self._score(model))

    def _score(self, model: Any) -> tuple[float, float | None, int]:
        from lm_eval.evaluator import evaluate

        # lm-eval draws a bar per task and request type on every call; a campaign draws its own.
        with progress_bars_dropped():
            results = evaluate(
                self._wrapper(model),
                self._task_dict,
                samples={self.task: self.indices} if self.indices is not None else None,
                bootstrap_iters=self.bootstrap_iters,
                log_samples=False,
                apply_chat_template=self.chat_template,
                system_instruction=self.system_prompt,
            )
        row = results["results"][self.task]
        value = row[f"{self.metric},{self.filter}"]
        stderr = row.get(f"{self.metric}_stderr,{self.filter}")
        stderr = float(stderr) if isinstance(stderr, (int, float)) else None
        return float(value), stderr, self.num_docs

    def _wrapper(self, model: Any) -> Any:
        """An ``HFLM`` around ``model`` itself (no copy), rebuilt if the model or its device changes."""
        lm = self._lm
        if lm is None or lm.model is not model or lm.device != model.device:
            from lm_eval.models.huggingface import HFLM

            logging.getLogger("lm_eval").setLevel(logging.WARNING)
            lm = HFLM(
                pretrained=model,
                tokenizer=self.tokenizer,
                batch_size=self.batch_size,
                add_bos_token=self.add_bos_token,
            )
            self._lm = lm
        return lm


def _build_task_dict(task: str, include_path: str | Path | None) -> dict[str, Any]:
    """lm-eval's ``{"tasks": {task: Task}, "groups": {}, ...}`` for one task, data loaded."""
    from lm_eval.tasks import TaskManager

    logging.getLogger("lm_eval").setLevel(logging.WARNING)
    if include_path is not None:
        local = localize_task_dir(include_path)
        # Indexing lm-eval's thousands of built-in tasks takes seconds; a local
        # task is looked for among the local files first.
        manager = TaskManager(include_path=str(local), include_defaults=False)
        if task not in manager.all_tasks:
            manager = TaskManager(include_path=str(local))
    else:
        manager = TaskManager()
    if task not in manager.all_tasks:
        where = f" or in {include_path}" if include_path is not None else ""
        raise ObjectiveError(f"lm_eval: no task {task!r} among lm-eval's tasks{where}")
    try:
        with progress_bars_dropped():  # datasets' "Generating test split" bars
            task_dict = manager.load([task])
    except Exception as exc:
        raise ObjectiveError(
            f"lm_eval task {task!r} could not be built: {type(exc).__name__}: {exc}"
        ) from exc
    if set(task_dict["tasks"]) != {task} or task_dict.get("groups"):
        raise ObjectiveError(
            f"lm_eval: {task!r} is a group or tag of tasks {sorted(task_dict['tasks'])}; name one task"
        )
    return task_dict


def _pick_metric(task: str, task_object: Any, metric: str | None) -> tuple[str, str]:
    """``(metric, filter)`` from a user's ``metric`` or ``metric,filter``."""
    metrics = list(task_object.higher_is_better())
    # lm-eval names results "metric,filter"; a task without filters has the filter "none".
    filter_list = task_object.config.filter_list or [{"name": "none"}]
    filters = [f["name"] for f in filter_list]
    wanted, _, wanted_filter = (metric or "").partition(",")
    if not wanted:
        if len(metrics) != 1:
            raise ObjectiveError(f"lm_eval task {task!r} has metrics {metrics}; set 'metric'")
        wanted = metrics[0]
    if wanted not in metrics:
        raise ObjectiveError(f"lm_eval task {task!r} has no metric {wanted!r}; it has {metrics}")
    if wanted_filter:
        if wanted_filter not in filters:
            raise ObjectiveError(f"lm_eval task {task!r} has no filter {wanted_filter!r}; it has {filters}")
    elif len(filters) == 1:
        wanted_filter = filters[0]
    else:
        raise ObjectiveError(
            f"lm_eval task {task!r} has filters {filters}; set metric as '{wanted},<filter>'"
        )
    return wanted, wanted_filter


def localize_task_dir(include_path: str | Path) -> Path:
    """A copy of the YAML (and Python) task files under ``include_path`` whose relative
    ``data_files`` paths are made absolute against each YAML's folder.

    The copy lives in ``cache_dir() / "lm_eval_tasks" / <hash of the folder and
    its YAML text>``; files already absolute are copied unchanged.
    """
    import yaml

    root = Path(include_path).resolve()
    if not root.is_dir():
        raise ObjectiveError(f"lm_eval include_path {root} is not a folder")
    # Python files travel too: YAML tasks may name functions in them (``!function``).
    sources = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml", ".py"))
    digest = hashlib.sha256(str(root).encode())
    for path in sources:
        digest.update(path.read_bytes())
    target = cache_dir() / "lm_eval_tasks" / digest.hexdigest()[:16]
    for path in sources:
        out = target / path.relative_to(root)
        out.parent.mkdir(parents=True, exist_ok=True)
        text = path.read_text()
        if path.suffix == ".py":
            out.write_text(text)
            continue
        try:
            config = yaml.safe_load(text)
        except yaml.YAMLError:
            # Files with lm-eval's custom tags (``!function``) are copied as they are.
            config = None
        if isinstance(config, dict) and _absolutize_data_files(config, path.parent):
            text = yaml.safe_dump(config, sort_keys=False)
        out.write_text(text)
    return target


def _absolutize_data_files(config: dict[str, Any], folder: Path) -> bool:
    """Rewrite relative paths in ``config['dataset_kwargs']['data_files']``; whether any changed."""
    data_files = (config.get("dataset_kwargs") or {}).get("data_files")
    if data_files is None:
        return False

    def fix(value: Any) -> Any:
        if isinstance(value, str) and "://" not in value and not Path(value).is_absolute():
            return str((folder / value).resolve())
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    fixed = {k: fix(v) for k, v in data_files.items()} if isinstance(data_files, dict) else fix(data_files)
    if fixed == data_files:
        return False
    config["dataset_kwargs"]["data_files"] = fixed
    return True
