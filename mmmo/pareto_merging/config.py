"""The YAML file of ``mmmo pareto-merge CONFIG``, as typed, validated objects.

It shares its model and objective fields with a campaign config (``base``,
``models``, ``objectives``, ``seed``, ``device``, ``dtype``), so the grid of
preferences is stored as a campaign that :meth:`ParetoMergeConfig.campaign_config`
describes, and adds what Pareto Merging needs::

    name: zoo-pareto
    base: zoo/base
    models: [zoo/experts/reverse, zoo/experts/sort, zoo/experts/count]
    tasks:                      # one preference coordinate each
      - {name: reverse, data: zoo/tasks/reverse/train.jsonl, loss: lm}
      - {name: sort, data: zoo/tasks/sort/train.jsonl}   # loss: entropy (unlabelled)
      - ...
    objectives:                 # scored for every grid preference
      - {kind: token_accuracy, name: reverse, data: zoo/tasks/reverse/test.jsonl}
    start: {method: task_arithmetic, weight: 1.0}        # or {plan: merge_plan.json}
    correction: {rank: 4, targets: ["*.mlp.down_proj.weight"]}
    training: {steps: 300, scalarization: smooth_tchebycheff}
    grid: {steps: 4}

Relative paths resolve against the config file's folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mmmo.config import (
    Budget,
    CampaignConfig,
    MergeMethodName,
    ModelSpec,
    ObjectiveSpec,
    SpaceConfig,
    read_yaml,
    validate_mapping,
)
from mmmo.errors import ConfigError, MergeError
from mmmo.pareto_merging.merged import DEFAULT_TARGETS
from mmmo.plan import MergePlan


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskSpec(_Strict):
    """One task: a preference coordinate and the data its training loss uses.

    ``loss: entropy`` reads only the prompts (unlabelled inputs); ``loss: lm``
    needs ``answer`` in every row (a labelled proxy set).
    """

    name: str
    data: Path
    loss: Literal["entropy", "lm"] = "entropy"
    limit: int | None = Field(default=512, gt=0)


class StartSpec(_Strict):
    """The starting merge: a uniform plan, or a ``merge_plan.json`` file."""

    method: MergeMethodName = "task_arithmetic"
    weight: float | list[float] = 1.0
    density: float | list[float] = 1.0
    options: dict[str, float | bool] = Field(default_factory=dict)
    plan: Path | None = None

    def build_plan(self, source_names: tuple[str, ...], seed: int) -> MergePlan:
        """The :class:`MergePlan` of the starting merge over ``source_names``."""
        if self.plan is not None:
            if not self.plan.is_file():
                raise ConfigError(f"start.plan: file not found: {self.plan}")
            try:
                plan = MergePlan.from_dict(json.loads(self.plan.read_text()))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ConfigError(f"start.plan: {self.plan} is not a merge plan: {exc}") from None
            if plan.sources != source_names:
                raise ConfigError(
                    f"start.plan: {self.plan} merges {list(plan.sources)}, "
                    f"but the config's models are {list(source_names)}"
                )
            return plan
        try:
            return MergePlan.uniform(
                self.method, source_names, self.weight, self.density, self.options, seed=seed
            )
        except MergeError as exc:
            raise ConfigError(f"start: {exc}") from None


class CorrectionSpec(_Strict):
    """Which matrices get a correction, its rank, and the parameter budget.

    ``rank`` left out is the largest that keeps the extra parameters within
    ``max_extra_fraction`` of the model's. ``task_scaling`` adds
    preference-dependent coefficients of the sources' task vectors on the same
    matrices (J x K scalars per matrix).
    """

    targets: list[str] = Field(default_factory=lambda: list(DEFAULT_TARGETS), min_length=1)
    rank: int | None = Field(default=None, gt=0)
    task_scaling: bool = True
    max_extra_fraction: float = Field(default=0.01, gt=0)


class TrainingSpec(_Strict):
    """See :class:`mmmo.pareto_merging.train.TrainingOptions`."""

    steps: int = Field(default=200, gt=0)
    batch_size: int = Field(default=16, gt=0)
    learning_rate: float = Field(default=3e-2, gt=0)
    alpha: float = Field(default=1.0, gt=0)
    preferences_per_step: int = Field(default=1, gt=0)
    scalarization: Literal["linear", "tchebycheff", "smooth_tchebycheff"] = "smooth_tchebycheff"
    mu: float = Field(default=0.1, gt=0)
    normalize: bool = True
    max_new_tokens: int = Field(default=16, gt=0)


class GridSpec(_Strict):
    """The evaluated preferences: a simplex lattice with spacing ``1 / steps``."""

    steps: int = Field(default=4, gt=0)


class ParetoMergeConfig(_Strict):
    """Everything one Pareto Merging run needs."""

    name: str = "pareto_merging"
    base: Path
    models: list[ModelSpec] = Field(min_length=1)
    tasks: list[TaskSpec] = Field(min_length=2)
    objectives: list[ObjectiveSpec] = Field(min_length=1)
    start: StartSpec = StartSpec()
    correction: CorrectionSpec = CorrectionSpec()
    training: TrainingSpec = TrainingSpec()
    grid: GridSpec = GridSpec()
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"

    @model_validator(mode="before")
    @classmethod
    def _paths_as_specs(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("models"), list):
            models = [{"path": m} if isinstance(m, (str, Path)) else m for m in value["models"]]
            value = {**value, "models": models}
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> ParetoMergeConfig:
        for what, names in (
            ("model", [m.display_name for m in self.models]),
            ("task", [t.name for t in self.tasks]),
            ("objective", [o.resolved_name for o in self.objectives]),
        ):
            if len(set(names)) != len(names):
                raise ValueError(f"{what} names must be unique, got {names}")
        return self

    @property
    def model_names(self) -> tuple[str, ...]:
        return tuple(m.display_name for m in self.models)

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks)

    def campaign_config(self, trials: int) -> CampaignConfig:
        """The campaign that stores the evaluated grid (``trials`` points)."""
        return CampaignConfig(
            name=self.name,
            base=self.base,
            models=self.models,
            space=SpaceConfig(method=self.start.method),
            objectives=self.objectives,
            budget=Budget(trials=max(trials, 1), initial=0),
            seed=self.seed,
            device=self.device,
            dtype=self.dtype,
        )


def _resolve(data: dict[str, Any], root: Path) -> dict[str, Any]:
    """Make the relative paths of a raw config absolute against ``root``."""

    def path(value: Any) -> Any:
        if isinstance(value, str) and value and not Path(value).is_absolute():
            return str(root / value)
        return value

    def each(items: Any, keys: tuple[str, ...]) -> Any:
        if not isinstance(items, list):
            return items
        return [
            {**i, **{k: path(i[k]) for k in keys if k in i}} if isinstance(i, dict) else path(i)
            for i in items
        ]

    data = dict(data)
    if "base" in data:
        data["base"] = path(data["base"])
    data["models"] = each(data.get("models"), ("path",))
    data["tasks"] = each(data.get("tasks"), ("data",))
    data["objectives"] = each(data.get("objectives"), ("data", "include_path"))
    if isinstance(data.get("start"), dict) and "plan" in data["start"]:
        data["start"] = {**data["start"], "plan": path(data["start"]["plan"])}
    return {k: v for k, v in data.items() if v is not None or k not in ("models", "tasks", "objectives")}


def parse_pareto_config(data: Any, source: str = "config", root: Path | None = None) -> ParetoMergeConfig:
    """Validate a raw mapping into a :class:`ParetoMergeConfig` (errors name the field)."""
    return validate_mapping(ParetoMergeConfig, data, source, root, _resolve)


def load_pareto_config(path: str | Path) -> ParetoMergeConfig:
    """Read and validate a Pareto Merging YAML file."""
    path = Path(path)
    return parse_pareto_config(read_yaml(path), source=str(path), root=path.resolve().parent)
