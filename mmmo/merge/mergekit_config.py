"""The mergekit (0.1.5) configuration equivalent to a merge plan.

Per-group parameters become mergekit's conditional parameters: a list of
``{filter, value}`` entries, where the first entry whose ``filter`` is a
substring of the tensor name applies (an entry without a filter matches all).
The filters come from the base model's :class:`~mmmo.sources.layout.TensorLayout`:

- ``model``: a plain value.
- ``module``: ``.<module>.`` of the layers' attention and MLP modules
  (``.self_attn.``, ``.attn.``, ``.mlp.``), else other.
- ``blocks``: each decoder layer's name prefix (``model.layers.3.``) -> its
  block, each embedding's module (``model.embed_tokens.``) -> embed, else head.

These filters are checked against every tensor of the layout; where a name
would defeat them (a filter that is a substring of a tensor of another group),
each tensor of the group is named in full instead.

Option names are mergekit's (``normalize``, ``rescale``, ``lambda``,
``gamma``, ``epsilon``, ``t``); ``gamma`` and ``epsilon`` are per-model there.

A source that is a PEFT adapter is written in mergekit's ``model+lora``
syntax (``<base folder>+<adapter folder>``): mergekit applies the adapter to
the base, as mmmo does, before merging.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mmmo.errors import MergeError
from mmmo.merge.methods import get_method
from mmmo.merge.slerp import interpolation_t
from mmmo.plan import MergePlan, SourceParams, TensorGrouping
from mmmo.sources.checkpoint import is_adapter_dir
from mmmo.sources.layout import TensorLayout, layout_of_checkpoint

_PER_MODEL_OPTIONS = ("gamma", "epsilon")

# (filter or None for "everything else", group), in mergekit's first-match order.
FilterEntries = list[tuple[str | None, str]]


def model_reference(base_path: Path, path: Path) -> str:
    """How mergekit names a source: its folder, or ``base+adapter`` for a PEFT adapter."""
    if is_adapter_dir(Path(path)):
        if "+" in str(base_path) or "+" in str(path):
            raise MergeError(
                f"mergekit's model+lora syntax cannot name {base_path} + {path}: a path holds '+'"
            )
        return f"{base_path}+{path}"
    return str(path)


def group_filters(grouping: TensorGrouping, layout: TensorLayout) -> FilterEntries:
    """Filters that send every tensor of ``layout`` to its group under ``grouping``."""
    places = layout.places
    if grouping.kind == "module":
        entries: FilterEntries = []
        for group in ("attention", "mlp"):
            modules = {_layer_module(layout, name) for name, place in places.items() if place.role == group}
            entries += [(f".{module}.", group) for module in sorted(modules)]
        entries.append((None, "other"))
    else:
        entries = [
            (layout.layer_start(layer), f"block{grouping.block_of_layer(layer)}") for layer in range(layout.num_layers)
        ]
        embeddings = {name.rsplit(".", 1)[0] + "." for name, place in places.items() if place.role == "embedding"}
        entries += [(module, "embed") for module in sorted(embeddings)]
        entries.append((None, "head"))
    wrong = [name for name, place in places.items() if _first_match(entries, name) != grouping.group_of(place)]
    if not wrong:
        return entries
    # Full names are exact filters, unless one is a substring of another (then earlier names go first).
    full: FilterEntries = [(name, grouping.group_of(place)) for name, place in places.items()]
    return [*sorted(full, key=lambda entry: -len(entry[0] or "")), entries[-1]]


def _layer_module(layout: TensorLayout, name: str) -> str:
    """The layer's child module holding tensor ``name`` (``self_attn`` of ``model.layers.3.self_attn.q.weight``)."""
    layer = layout.places[name].layer
    return name[len(layout.layer_start(layer)) :].split(".", 1)[0] if layer is not None else name


def _first_match(entries: FilterEntries, name: str) -> str:
    return next(group for text, group in entries if text is None or text in name)


def _setting(plan: MergePlan, value_of: Callable[[str], float], layout: TensorLayout | None) -> Any:
    """A mergekit parameter setting: one value, or filtered values per tensor group."""
    if plan.grouping.kind == "model":
        return value_of("all")
    if layout is None:
        raise MergeError(f"a mergekit config of a {plan.grouping.kind!r} plan needs the base model's layout")
    entries = group_filters(plan.grouping, layout)
    values = [value_of(group) for _, group in entries]
    if len(set(values)) == 1:
        return values[0]
    return [{"filter": f, "value": v} if f is not None else {"value": v} for (f, _), v in zip(entries, values)]


def _source_value(plan: MergePlan, k: int, field: str) -> Callable[[str], float]:
    def value_of(group: str) -> float:
        params: SourceParams = plan.params[group][k]
        return float(getattr(params, field))

    return value_of


def mergekit_config(
    plan: MergePlan,
    base_path: Path,
    source_paths: Mapping[str, Path],
    dtype: str = "float32",
    layout: TensorLayout | None = None,
) -> dict[str, Any]:
    """The mergekit configuration (as a dict, YAML-ready) that merges like ``plan``.

    Args:
        dtype: The merged model's dtype (``out_dtype``; mergekit computes in float32, as mmmo does).
        layout: The base model's layout; read from ``base_path`` when a plan
            with per-group values needs it and it is not given.

    Raises:
        MergeError: the method has no mergekit equivalent.
    """
    method = get_method(plan.method)
    if method.mergekit_name is None:
        raise MergeError(f"method {plan.method!r} has no mergekit equivalent")
    options = method.resolve_options(plan)
    if layout is None and plan.grouping.kind != "model":
        layout = layout_of_checkpoint(Path(base_path))
    # mmmo's arithmetic is float32 whatever the model's dtype; ``dtype`` is what it writes.
    config: dict[str, Any] = {"merge_method": method.mergekit_name, "dtype": "float32", "out_dtype": dtype}
    paths = [model_reference(base_path, source_paths[name]) for name in plan.sources]

    if plan.method == "slerp":
        config["base_model"] = paths[0]
        config["models"] = [{"model": p} for p in paths]
        config["parameters"] = {"t": _setting(plan, lambda g: interpolation_t(plan.params[g], options), layout)}
        return config
    if plan.method == "model_stock":
        config["base_model"] = str(base_path)
        config["models"] = [{"model": p} for p in paths]
        return config

    models = []
    for k, path in enumerate(paths):
        parameters: dict[str, Any] = {"weight": _setting(plan, _source_value(plan, k, "weight"), layout)}
        if method.uses_density:
            parameters["density"] = _setting(plan, _source_value(plan, k, "density"), layout)
        for key in _PER_MODEL_OPTIONS:
            if key in options:
                parameters[key] = float(options[key])
        models.append({"model": path, "parameters": parameters})
    config["models"] = models
    if plan.method != "linear":
        config["base_model"] = str(base_path)
    config["parameters"] = {
        key: (bool(value) if isinstance(value, bool) else float(value))
        for key, value in options.items()
        if key not in _PER_MODEL_OPTIONS
    }
    return config


def mergekit_yaml(
    plan: MergePlan,
    base_path: Path,
    source_paths: Mapping[str, Path],
    dtype: str = "float32",
    layout: TensorLayout | None = None,
) -> str:
    """:func:`mergekit_config` as YAML text."""
    import yaml

    return yaml.safe_dump(mergekit_config(plan, base_path, source_paths, dtype, layout), sort_keys=False)
