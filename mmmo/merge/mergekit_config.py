"""The mergekit (0.1.5) configuration equivalent to a merge plan.

Per-group parameters become mergekit's conditional parameters: a list of
``{filter, value}`` entries, where the first entry whose ``filter`` is a
substring of the tensor name applies (an entry without a filter matches all).
The filters reproduce :meth:`mmmo.plan.TensorGrouping.group_of`:

- ``model``: a plain value.
- ``module``: ``self_attn`` -> attention, ``mlp`` -> mlp, else other.
- ``blocks``: ``layers.{i}.`` per decoder layer -> its block, ``embed`` -> embed,
  else head.

Option names are mergekit's (``normalize``, ``rescale``, ``lambda``,
``gamma``, ``epsilon``, ``t``); ``gamma`` and ``epsilon`` are per-model there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mmmo.errors import MergeError
from mmmo.merge.methods import get_method
from mmmo.merge.slerp import interpolation_t
from mmmo.plan import MergePlan, SourceParams

_PER_MODEL_OPTIONS = ("gamma", "epsilon")


def _setting(plan: MergePlan, value_of: Callable[[str], float]) -> Any:
    """A mergekit parameter setting: one value, or filtered values per tensor group."""
    grouping = plan.grouping
    if grouping.kind == "model":
        return value_of("all")
    if grouping.kind == "module":
        entries = [("self_attn", "attention"), ("mlp", "mlp"), (None, "other")]
    else:
        entries = [
            (f"layers.{layer}.", f"block{grouping.block_of_layer(layer)}") for layer in range(grouping.num_layers)
        ]
        entries += [("embed", "embed"), (None, "head")]
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
) -> dict[str, Any]:
    """The mergekit configuration (as a dict, YAML-ready) that merges like ``plan``.

    Raises:
        MergeError: the method has no mergekit equivalent.
    """
    method = get_method(plan.method)
    if method.mergekit_name is None:
        raise MergeError(f"method {plan.method!r} has no mergekit equivalent")
    options = method.resolve_options(plan)
    config: dict[str, Any] = {"merge_method": method.mergekit_name, "dtype": dtype, "out_dtype": dtype}
    paths = [str(source_paths[name]) for name in plan.sources]

    if plan.method == "slerp":
        config["base_model"] = paths[0]
        config["models"] = [{"model": p} for p in paths]
        config["parameters"] = {"t": _setting(plan, lambda g: interpolation_t(plan.params[g], options))}
        return config
    if plan.method == "model_stock":
        config["base_model"] = str(base_path)
        config["models"] = [{"model": p} for p in paths]
        return config

    models = []
    for k, path in enumerate(paths):
        parameters: dict[str, Any] = {"weight": _setting(plan, _source_value(plan, k, "weight"))}
        if method.uses_density:
            parameters["density"] = _setting(plan, _source_value(plan, k, "density"))
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


def mergekit_yaml(plan: MergePlan, base_path: Path, source_paths: Mapping[str, Path]) -> str:
    """:func:`mergekit_config` as YAML text."""
    import yaml

    return yaml.safe_dump(mergekit_config(plan, base_path, source_paths), sort_keys=False)
