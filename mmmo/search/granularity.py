"""Granularities on the layout's axes, and parameters shared across their groups.

A space's granularity (:class:`~mmmo.config.Granularity`) becomes the plan's
:class:`~mmmo.plan.TensorGrouping`: the finest split of the model's tensors
that any searched parameter needs. A parameter may be searched at a coarser
granularity of its own (``density: {low: 0.1, high: 1.0, granularity: model}``
beside ``granularity: layer``): each of its values is then shared by every
plan group inside one of its own groups.

Whether one grouping is a coarsening of another is decided on every kind of
place a decoder model has (embedding, final norm, head; attention, MLP and
norm tensors of each layer), so the answer depends only on the number of
layers: a campaign reopened without its model checks it the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

from mmmo.config import Granularity
from mmmo.errors import ConfigError
from mmmo.plan import TensorGrouping
from mmmo.sources.layout import TensorPlace

__all__ = ["coarsening", "grouping_of", "model_places"]


def grouping_of(granularity: Granularity, num_layers: int, field: str) -> TensorGrouping:
    """The tensor grouping of ``granularity`` on a model of ``num_layers`` decoder layers.

    Raises:
        ConfigError: Naming ``field`` when the model cannot hold it (more
            blocks than layers).
    """
    if granularity.kind == "blocks" and granularity.blocks > num_layers:
        raise ConfigError(
            f"{field}: {granularity.blocks} blocks on a model with {num_layers} decoder layers; "
            f"use at most {num_layers}"
        )
    return TensorGrouping(
        kind=granularity.kind,
        num_layers=num_layers,
        blocks=granularity.blocks if granularity.kind == "blocks" else 1,
        by_module=granularity.by_module,
    )


def model_places(num_layers: int) -> list[TensorPlace]:
    """One place of every kind a decoder model of ``num_layers`` layers has."""
    outside = [TensorPlace(None, "embedding"), TensorPlace(None, "norm"), TensorPlace(None, "head")]
    inside = [TensorPlace(layer, role) for layer in range(num_layers) for role in ("attention", "mlp", "norm")]
    return outside + inside


def coarsening(fine: TensorGrouping, coarse: TensorGrouping, field: str) -> Mapping[str, str]:
    """Each group of ``fine`` -> the one group of ``coarse`` that holds all its tensors.

    Raises:
        ConfigError: Naming ``field``, when a group of ``fine`` spans several
            groups of ``coarse`` (the shared parameter would need two values
            in one plan group).
    """
    spans: dict[str, set[str]] = {}
    for place in model_places(fine.num_layers):
        spans.setdefault(fine.group_of(place), set()).add(coarse.group_of(place))
    split = {group: sorted(parts) for group, parts in spans.items() if len(parts) > 1}
    if split:
        group, parts = next(iter(split.items()))
        raise ConfigError(
            f"{field}: {coarse.label!r} is not a coarsening of the space's granularity {fine.label!r}: "
            f"its group {group!r} spans {parts}; a parameter's own granularity must be the space's "
            f"or coarser"
        )
    return {group: next(iter(parts)) for group, parts in spans.items()}
