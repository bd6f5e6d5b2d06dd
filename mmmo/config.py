"""Campaign configuration: the YAML file a user writes, as typed, validated objects.

One call, :func:`load_config`, turns a YAML file into a :class:`CampaignConfig`;
the same model is built directly from Python. Validation happens here, once,
before any work starts: unknown fields are refused, and every error names the
field and says what was expected. Relative paths are resolved against the
config file's folder, so a config works from any working directory.

Search-space presets are looked up by name in the ``search_spaces/`` folder
(``space: dare_ties``; shipped inside the wheel too, see :mod:`mmmo.resources`)
or given as a path or inline.

``base`` and ``models`` are local folders or Hugging Face repo ids
(``owner/name[@revision]``, see :mod:`mmmo.model_refs`), kept as written.
Objective kinds, merge methods and proposers are the names their registries
hold (:mod:`mmmo.registry`), so a user's own are accepted like mmmo's.
"""

from __future__ import annotations

import re
from pathlib import Path
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mmmo.errors import ConfigError
from mmmo.model_refs import display_name, is_hub_id
from mmmo.registry import MERGE_METHODS, OBJECTIVES, PROPOSERS, Registry
from mmmo.resources import presets_dir

ModelT = TypeVar("ModelT", bound=BaseModel)

PRESETS_DIR = presets_dir()


def _registered(registry: Registry[Any]) -> AfterValidator:
    """A validator admitting only the names ``registry`` holds now."""

    def check(name: str) -> str:
        if name not in registry:
            raise ValueError(f"unknown {registry.what} {name!r}; expected one of {', '.join(registry.names())}")
        return name

    return AfterValidator(check)


MergeMethodName = Annotated[str, _registered(MERGE_METHODS)]
ObjectiveKindName = Annotated[str, _registered(OBJECTIVES)]
ProposerName = Annotated[str, _registered(PROPOSERS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSpec(_Strict):
    """One source model: a local HF checkpoint or PEFT adapter directory, or a hub repo id."""

    path: Path
    name: str | None = None

    @property
    def display_name(self) -> str:
        return self.name or display_name(self.path)


class Granularity(_Strict):
    """How finely tensors get their own parameters.

    In YAML: ``model``, ``module``, ``layer``, ``blocks:B`` (or ``{blocks: B}``),
    and ``layer x module`` or ``blocks:B x module`` for attention and MLP apart
    within each layer or block (see :class:`~mmmo.plan.TensorGrouping`).
    """

    kind: Literal["model", "blocks", "module", "layer"] = "model"
    blocks: int = 1
    by_module: bool = False

    @model_validator(mode="before")
    @classmethod
    def _from_shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _parse_granularity(value)
        if isinstance(value, dict) and "blocks" in value and "kind" not in value:
            return {"kind": "blocks", **value}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Granularity:
        if self.kind == "blocks" and self.blocks < 1:
            raise ValueError(f"blocks must be >= 1, got {self.blocks}")
        if self.by_module and self.kind not in ("blocks", "layer"):
            raise ValueError(
                f"'x module' splits layers or blocks; {self.kind!r} granularity cannot be split "
                f"(use 'module' alone, 'layer x module' or 'blocks:B x module')"
            )
        return self

    @property
    def label(self) -> str:
        """As a config writes it: ``model``, ``blocks:4``, ``layer x module``."""
        base = f"blocks:{self.blocks}" if self.kind == "blocks" else self.kind
        return f"{base} x module" if self.by_module else base


def _parse_granularity(text: str) -> dict[str, Any]:
    """``"layer x module"`` -> ``{"kind": "layer", "by_module": True}``; errors say the forms."""
    forms = "model, module, layer, blocks:B, layer x module or blocks:B x module"
    parts = [p.strip() for p in text.split(" x ")]
    if len(parts) > 2 or (len(parts) == 2 and parts[1] != "module"):
        raise ValueError(f"granularity {text!r}: expected one of {forms}")
    head = parts[0]
    data: dict[str, Any] = {"by_module": len(parts) == 2}
    if head.startswith("blocks"):
        count = head[len("blocks") :].lstrip(":").strip()
        if not count.isdigit():
            raise ValueError(f"granularity {text!r}: blocks need a count, as in blocks:4; expected one of {forms}")
        data.update(kind="blocks", blocks=int(count))
    elif head in ("model", "module", "layer"):
        data["kind"] = head
    else:
        raise ValueError(f"granularity {text!r}: expected one of {forms}")
    return data


class Bounds(_Strict):
    """Closed interval of one searched parameter, and optionally its own granularity.

    ``[low, high]`` in YAML; ``{low: L, high: H, granularity: G}`` gives the
    parameter a coarser granularity than the space's, shared by the space's
    finer groups (per-layer weights with one density per source:
    ``granularity: layer`` and ``density: {low: 0.1, high: 1.0, granularity: model}``).
    """

    low: float
    high: float
    granularity: Granularity | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            if len(value) != 2:
                raise ValueError(f"bounds must be [low, high], got {list(value)}")
            return {"low": value[0], "high": value[1]}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if not self.low < self.high:
            raise ValueError(f"low must be below high, got [{self.low}, {self.high}]")
        return self


class SpaceConfig(_Strict):
    """A search space: which method(s), which parameters, at which granularity.

    ``method`` is one name (fixed) or a list (a categorical choice).
    ``parameters`` maps ``weight`` and/or ``density`` to their bounds; a
    parameter left out is fixed (weight 1.0, density 1.0). ``options`` are
    fixed method options (``normalize``, ``rescale``, ``lambda``, ...).
    """

    method: MergeMethodName | list[MergeMethodName]
    granularity: Granularity = Granularity()
    parameters: dict[Literal["weight", "density"], Bounds] = Field(default_factory=dict)
    options: dict[str, float | bool] = Field(default_factory=dict)

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(self.method) if isinstance(self.method, list) else (self.method,)

    @field_validator("method", mode="before")
    @classmethod
    def _known_methods(cls, value: Any) -> Any:
        if isinstance(value, list) and not value:
            raise ValueError("method list is empty")
        names = value if isinstance(value, list) else [value]
        unknown = [n for n in names if isinstance(n, str) and n not in MERGE_METHODS]
        if unknown:
            raise ValueError(
                f"unknown method {', '.join(map(repr, unknown))}; expected one of "
                f"{', '.join(MERGE_METHODS.names())}, or a list of them"
            )
        return value

    @model_validator(mode="after")
    def _density_range(self) -> SpaceConfig:
        density = self.parameters.get("density")
        if density is not None and not (0.0 < density.low and density.high <= 1.0):
            raise ValueError(f"density bounds must lie in (0, 1], got [{density.low}, {density.high}]")
        return self


class ObjectiveSpec(_Strict):
    """One objective, as named in a campaign config.

    Which fields a kind reads, and which it needs, is the kind's own record
    (:class:`~mmmo.objectives.kinds.ObjectiveKind`); a prompt or answer
    option (or ``options``) set for a kind that ignores it is refused rather
    than silently dropped.
    """

    kind: ObjectiveKindName
    name: str | None = None
    data: Path | None = None
    task: str | None = None
    metric: str | None = None
    include_path: Path | None = None
    function: str | None = None  # "module:attr" for kind=callable
    # Folder the callable's module is looked for in first (then PYTHONPATH); a
    # config file sets it to its own folder.
    function_dir: Path | None = None
    limit: int | None = Field(default=None, gt=0)
    direction: Literal["maximize", "minimize"] | None = None
    batch_size: int = Field(default=64, gt=0)
    max_new_tokens: int | None = Field(default=None, gt=0)
    # How prompts are shown to the model (data kinds).
    chat_template: bool = False
    system_prompt: str | None = None
    fewshot: Path | None = None
    # How a generated answer is read (exact_match).
    stop: list[str] | None = None
    answer_pattern: str | None = None
    normalize: list[Literal["strip", "lower", "punctuation", "whitespace"]] | None = None
    # Settings of a user's own objective kind, passed to its builder as given.
    options: dict[str, Any] = Field(default_factory=dict)
    # Scored and stored every trial, but not searched on: the proposer, the
    # front and the hypervolume never see it (a held-out task's side effects).
    report_only: bool = False

    @model_validator(mode="after")
    def _kind_fields(self) -> ObjectiveSpec:
        kind = OBJECTIVES.get(self.kind)
        for field in sorted(kind.required):
            if getattr(self, field) is None:
                raise ValueError(f"kind {self.kind!r} needs {field!r}{_FIELD_HINTS.get(field, '')}")
        ignored = [
            name
            for name in _KIND_SPECIFIC_FIELDS
            if name not in kind.fields
            and getattr(self, name) != type(self).model_fields[name].get_default(call_default_factory=True)
        ]
        if ignored:
            raise ValueError(
                f"kind {self.kind!r} does not use {', '.join(map(repr, ignored))}; "
                f"its fields are {', '.join(sorted(kind.fields))}"
            )
        if self.function is not None and ":" not in self.function:
            raise ValueError(f"function must look like 'module:attribute', got {self.function!r}")
        if self.system_prompt is not None and not self.chat_template:
            raise ValueError("system_prompt needs chat_template: true")
        if self.stop is not None and not all(self.stop):
            raise ValueError("stop: a stop string must not be empty")
        if self.answer_pattern is not None:
            try:
                groups = re.compile(self.answer_pattern).groups
            except re.error as exc:
                raise ValueError(f"answer_pattern {self.answer_pattern!r} is not a valid regular expression: {exc}")
            if groups > 1:
                raise ValueError(f"answer_pattern {self.answer_pattern!r} has {groups} groups; use at most one")
        return self

    @property
    def resolved_name(self) -> str:
        if self.name:
            return self.name
        if self.data is not None:
            return f"{self.data.stem}_{self.kind}"
        if self.task is not None:
            return f"{self.task}_{self.metric or 'score'}"
        if self.function is not None:
            return self.function.rsplit(":", 1)[-1]
        return self.kind

    @property
    def resolved_direction(self) -> Literal["maximize", "minimize"] | None:
        """The direction, or ``None`` when it comes from the evaluator (lm_eval)."""
        kind = OBJECTIVES.get(self.kind)
        if kind.direction is None:
            return None
        return self.direction or kind.direction


# Fields refused on a kind that does not read them. The older fields (data,
# task, metric, include_path, function, max_new_tokens) were accepted on any
# kind, and campaign files store them so: they stay tolerated.
_KIND_SPECIFIC_FIELDS = (
    "chat_template",
    "system_prompt",
    "fewshot",
    "stop",
    "answer_pattern",
    "normalize",
    "options",
)

_FIELD_HINTS = {
    "data": " (a JSONL or text file)",
    "task": " (an lm-eval task name)",
    "function": " as 'module:attribute'",
}


class Budget(_Strict):
    """When a run stops: ``trials`` searched trials, or (when set) ``examples``
    scored or ``seconds`` of merging and scoring by searched trials, whichever
    comes first. References are not counted.
    """

    trials: int = Field(default=40, gt=0)
    batch_size: int = Field(default=1, gt=0)
    initial: int = Field(default=8, ge=0)
    examples: int | None = Field(default=None, gt=0)
    seconds: float | None = Field(default=None, gt=0)


class FidelityConfig(_Strict):
    """Multi-fidelity search: screen candidates on a prefix of each objective's examples.

    ``schedule``: the fidelities (fraction of each objective's examples scored),
    increasing, each in (0, 1], the last 1. New candidates are scored at the
    first; a promotion takes a trial to the next, scoring only the examples
    it adds. ``promote``: ``posterior`` (promote trials whose GP posterior at
    full fidelity, ``beta`` standard deviations up, would still enter the full-
    fidelity front) or ``halving`` (asynchronous successive halving: the top
    ``1/eta`` of each rung by non-dominated rank). ``surrogate``: ``noise``
    (a GP over the point; a low fidelity is an unbiased, noisier score) or
    ``input`` (a GP over point and fidelity). ``acquisition``: ``nehvi`` (the
    rules above, new points by qLogNEHVI), or ``momf`` / ``hvkg``: each slot
    goes to the new screen or the promotion that BoTorch's MOMF or multi-
    fidelity hypervolume knowledge gradient values most per example scored
    (needs ``surrogate: input``). Unset, ``acquisition`` is ``momf`` and
    ``surrogate`` follows it, unless the rules set say otherwise (below).
    """

    schedule: list[float] = Field(min_length=1)
    promote: Literal["posterior", "halving"] = "posterior"
    surrogate: Literal["noise", "input"] = "input"
    acquisition: Literal["nehvi", "momf", "hvkg"] = "momf"
    beta: float = Field(default=1.0, ge=0)
    eta: int = Field(default=2, ge=2)

    @field_validator("schedule")
    @classmethod
    def _fractions(cls, schedule: list[float]) -> list[float]:
        outside = [f for f in schedule if not 0.0 < f <= 1.0]
        if outside:
            raise ValueError(f"each fidelity must be in (0, 1], got {outside}")
        if any(b <= a for a, b in zip(schedule, schedule[1:])):
            raise ValueError(f"fidelities must increase, got {schedule}")
        if schedule[-1] != 1.0:
            raise ValueError(f"the last fidelity must be 1 (a full evaluation), got {schedule[-1]}")
        return schedule

    @model_validator(mode="before")
    @classmethod
    def _defaults_that_fit(cls, value: Any) -> Any:
        """Unset ``acquisition`` and ``surrogate`` take the values that fit the ones that are set.

        MOMF is the default (it reached the best fronts per example on the demo zoo,
        ``docs/benchmarks/multi_fidelity.md``); it needs the GP over point and fidelity.
        ``promote: halving`` or ``surrogate: noise`` keep the qLogNEHVI rules, and
        ``acquisition: nehvi`` their GP over the point.
        """
        if not isinstance(value, dict):
            return value
        value = dict(value)
        if "acquisition" not in value:
            keeps_nehvi = value.get("promote") == "halving" or value.get("surrogate") == "noise"
            value["acquisition"] = "nehvi" if keeps_nehvi else "momf"
        if "surrogate" not in value:
            value["surrogate"] = "noise" if value["acquisition"] == "nehvi" else "input"
        return value

    @model_validator(mode="after")
    def _acquisition_needs_fidelity_input(self) -> FidelityConfig:
        if self.acquisition != "nehvi" and self.surrogate != "input":
            raise ValueError(f"acquisition: {self.acquisition} values each fidelity on a GP over point and "
                             f"fidelity; set surrogate: input (got {self.surrogate})")
        if self.acquisition != "nehvi" and self.promote != "posterior":
            raise ValueError(f"acquisition: {self.acquisition} chooses the promotions itself; "
                             f"it needs promote: posterior (got {self.promote})")
        return self


class ExecutorConfig(_Strict):
    """Where trials run: ``inline`` (this process, the default) or on Ray workers.

    ``executor: inline``, or ``executor: {kind: ray, address: local | auto |
    HOST:PORT | ray://HOST:PORT, workers: N, gpus_per_worker: G, cpus_per_worker: C}``.
    """

    kind: Literal["inline", "ray"] = "inline"
    address: str = "local"
    workers: int = Field(default=1, gt=0)
    gpus_per_worker: float = Field(default=0.0, ge=0)
    cpus_per_worker: float = Field(default=1.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _from_kind(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _inline_is_one_worker(self) -> ExecutorConfig:
        if self.kind == "inline" and self.workers != 1:
            raise ValueError(f"the inline executor runs one worker, got workers: {self.workers}; set kind: ray")
        if not self.address.strip():
            raise ValueError("address is empty; use local, auto, HOST:PORT or ray://HOST:PORT")
        return self


class CampaignConfig(_Strict):
    """Everything a campaign needs; stored verbatim in the campaign file."""

    name: str = "campaign"
    base: Path
    models: list[ModelSpec] = Field(min_length=1)
    space: SpaceConfig
    objectives: list[ObjectiveSpec] = Field(min_length=1)
    budget: Budget = Budget()
    proposer: ProposerName = "qlognehvi"
    reference_point: dict[str, float] | None = None
    # Evaluate the standard recipes (uniform average, task arithmetic, TIES,
    # DARE-TIES at common defaults) once at the start, next to base and sources.
    recipes: bool = True
    # Seeds proposals, DARE/DELLA masks and the data subsets objectives draw (``limit``).
    # Sub-seeds are derived from it by arithmetic that torch takes in 64 bits.
    seed: int = Field(default=0, ge=0, lt=2**63)
    # Allow checkpoints that need their own code (config.json auto_map).
    trust_remote_code: bool = False
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # "auto": the base checkpoint's own dtype (``dtype``/``torch_dtype`` in its config.json).
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    # Where task vectors live: held in memory, read from the mapped checkpoints
    # per tensor, or resident when it fits in a safe share of the memory.
    storage: Literal["resident", "mmap", "auto"] = "auto"
    executor: ExecutorConfig = ExecutorConfig()
    # Multi-fidelity search (None: every trial scores all its examples).
    fidelity: FidelityConfig | None = None

    @field_validator("models", mode="before")
    @classmethod
    def _paths_as_specs(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"path": v} if isinstance(v, (str, Path)) else v for v in value]
        return value

    @field_validator("space", mode="before")
    @classmethod
    def _space_from_preset(cls, value: Any) -> Any:
        if isinstance(value, (str, Path)):
            return load_space(value)
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> CampaignConfig:
        names = [m.display_name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"model names must be unique, got {names}; set 'name' on each")
        objective_names = [o.resolved_name for o in self.objectives]
        if len(set(objective_names)) != len(objective_names):
            raise ValueError(f"objective names must be unique, got {objective_names}; set 'name'")
        if self.reference_point is not None:
            unknown = set(self.reference_point) - set(objective_names)
            if unknown:
                raise ValueError(
                    f"reference_point names unknown objectives {sorted(unknown)}; "
                    f"objectives are {objective_names}"
                )
        if all(o.report_only for o in self.objectives):
            raise ValueError("every objective is report_only; at least one must be searched on")
        reported = {o.resolved_name for o in self.objectives if o.report_only}
        if self.reference_point is not None and reported & set(self.reference_point):
            raise ValueError(
                f"reference_point names report_only objectives {sorted(reported & set(self.reference_point))}; "
                "only searched objectives have a reference point"
            )
        if self.budget.initial > self.budget.trials:
            raise ValueError(
                f"budget.initial ({self.budget.initial}) exceeds budget.trials ({self.budget.trials})"
            )
        if self.fidelity is not None:
            for index, spec in enumerate(self.objectives):
                if OBJECTIVES.get(spec.kind).subset is None:
                    raise ValueError(
                        f"objectives.{index}.kind: objective {spec.resolved_name!r} ({spec.kind}) cannot be "
                        "scored on a subset of its examples, which fidelity needs; remove it or the fidelity section"
                    )
        return self

    @property
    def model_names(self) -> tuple[str, ...]:
        return tuple(m.display_name for m in self.models)

    @property
    def objective_names(self) -> tuple[str, ...]:
        """Every objective scored each trial, searched and report-only, in config order."""
        return tuple(o.resolved_name for o in self.objectives)

    @property
    def searched_objectives(self) -> tuple[ObjectiveSpec, ...]:
        """The objectives the search optimises (not ``report_only``)."""
        return tuple(o for o in self.objectives if not o.report_only)

    @property
    def reported_objectives(self) -> tuple[ObjectiveSpec, ...]:
        """The ``report_only`` objectives: scored and stored, never searched on."""
        return tuple(o for o in self.objectives if o.report_only)

    def to_yaml_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


# Location parts pydantic adds for union members and dict keys
# (``literal['a','b']``, ``list[int]``, ``[key]``); they are not field names.
_TYPE_TAG = re.compile(r"^(\[key\]|[\w-]+\[.*\])$")


def format_validation_error(error: ValidationError, source: str) -> str:
    """One line per problem: ``source: field.path: message``.

    The alternatives of a union field (a method name or a list of them) are
    reported on one line, under the field's own name.
    """
    messages: dict[str, list[str]] = {}
    for item in error.errors():
        parts = [str(p) for p in item["loc"] if not (isinstance(p, str) and _TYPE_TAG.match(p))]
        where = ".".join(parts) or "(top level)"
        message = "unknown field" if item["type"] == "extra_forbidden" else item["msg"]
        if message not in messages.setdefault(where, []):
            messages[where].append(message)
    return "\n".join(f"{source}: {where}: {'; or: '.join(ms)}" for where, ms in messages.items())


def read_yaml(path: Path) -> Any:
    """The parsed contents of a YAML file; a missing file or bad YAML is a ConfigError naming it."""
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a UTF-8 text file (undecodable byte at offset {exc.start})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc


def _resolve_paths(data: dict[str, Any], root: Path) -> dict[str, Any]:
    """Make relative paths in a raw config absolute against ``root``."""

    def resolve(value: Any) -> Any:
        if isinstance(value, str) and value and not Path(value).is_absolute():
            return str(root / value)
        return value

    def resolve_model(value: Any) -> Any:
        # A hub repo id stays as written, unless a folder of that name sits beside the config.
        if isinstance(value, str) and is_hub_id(value) and not (root / value).exists():
            return value
        return resolve(value)

    data = dict(data)
    if "base" in data:
        data["base"] = resolve_model(data["base"])
    if isinstance(data.get("models"), list):
        data["models"] = [
            {**m, "path": resolve_model(m.get("path"))} if isinstance(m, dict) else resolve_model(m)
            for m in data["models"]
        ]
    if isinstance(data.get("objectives"), list):
        data["objectives"] = [
            {
                **o,
                **{k: resolve(o[k]) for k in ("data", "include_path", "fewshot", "function_dir") if k in o},
                # A callable's module may sit beside the config.
                **({"function_dir": str(root)} if "function" in o and "function_dir" not in o else {}),
            }
            if isinstance(o, dict)
            else o
            for o in data["objectives"]
        ]
    space = data.get("space")
    if isinstance(space, str) and not _is_preset_name(space):
        data["space"] = resolve(space)
    return data


def _is_preset_name(value: str) -> bool:
    return "/" not in value and not value.endswith((".yaml", ".yml"))


def load_space(value: str | Path) -> SpaceConfig:
    """A search space from a preset name (``dare_ties``) or a YAML path."""
    text = str(value)
    path = PRESETS_DIR / f"{text}.yaml" if _is_preset_name(text) else Path(text)
    if not path.is_file():
        presets = sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))
        raise ConfigError(f"space: no preset or file {text!r}; presets are {presets}")
    raw = read_yaml(path)
    try:
        return SpaceConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(path))) from None


def validate_mapping(
    model: type[ModelT],
    data: Any,
    source: str,
    root: Path | None,
    resolve: Callable[[dict[str, Any], Path], dict[str, Any]],
) -> ModelT:
    """Validate a raw top-level mapping into ``model``; relative paths are made
    absolute against ``root`` by ``resolve`` first. Errors name ``source`` and the field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    if root is not None:
        data = resolve(data, root)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def parse_config(data: Any, source: str = "config", root: Path | None = None) -> CampaignConfig:
    """Validate a raw mapping (from YAML or Python) into a :class:`CampaignConfig`."""
    return validate_mapping(CampaignConfig, data, source, root, _resolve_paths)


def load_config(path: str | Path) -> CampaignConfig:
    """Read and validate a campaign YAML file; relative paths resolve against its folder."""
    path = Path(path)
    return parse_config(read_yaml(path), source=str(path), root=path.resolve().parent)

