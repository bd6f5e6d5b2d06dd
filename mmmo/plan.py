"""The merge plan: what one candidate merge is, independent of how it was found.

A :class:`MergePlan` is the boundary between the search space (which decodes a
unit-cube vector into a plan) and the merge engine (which turns a plan into
weights). It names the method, the per-source parameters for every tensor
group, and the method's options. It is plain data: frozen, JSON round-trippable,
and free of torch.

Tensor groups come from a :class:`TensorGrouping`, applied to each tensor's
place (decoder layer and role) in the model's
:class:`~mmmo.sources.layout.TensorLayout`:

- ``model``: one group, ``"all"``; every tensor gets the same per-source values.
- ``blocks`` (``blocks=B``): ``"embed"`` (embeddings), ``"block0"`` ..
  ``"block{B-1}"`` (B contiguous, near-equal runs of decoder layers, layer norms
  inside a layer included), and ``"head"`` (final norm and LM head).
- ``module``: ``"attention"`` (attention tensors), ``"mlp"`` (MLP tensors) and
  ``"other"`` (embeddings, layer norms, final norm, head).
- ``layer``: ``"embed"``, ``"layer0"`` .. ``"layer{L-1}"`` (one group per
  decoder layer, its norms included) and ``"head"``.

``blocks`` and ``layer`` can also split each layer group by module
(``by_module``): ``"block2.attention"`` and ``"block2.mlp"``, or
``"layer5.attention"`` and ``"layer5.mlp"``. A layer's norms then join its
attention group: they are a few hundred numbers per layer, and a group of
their own would add dimensions to every search for nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from mmmo.errors import MergeError

if TYPE_CHECKING:
    from mmmo.sources.layout import TensorPlace

GranularityKind = Literal["model", "blocks", "module", "layer"]
GRANULARITY_KINDS: tuple[str, ...] = ("model", "blocks", "module", "layer")


@dataclass(frozen=True)
class SourceParams:
    """Parameters of one source for one tensor group.

    Attributes:
        weight: Scale of the source's contribution (any real number; the merge
            method decides whether weights are normalised).
        density: Fraction of the source's delta entries kept, in (0, 1].
            The drop rate of DARE is ``1 - density``.
    """

    weight: float
    density: float = 1.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.weight):
            raise MergeError(f"weight must be a finite number, got {self.weight!r}")
        if not (0.0 < self.density <= 1.0) or not math.isfinite(self.density):
            raise MergeError(f"density must be in (0, 1], got {self.density!r}")


@dataclass(frozen=True)
class TensorGrouping:
    """How tensors are split into groups that get their own parameters.

    Attributes:
        kind: ``"model"``, ``"blocks"``, ``"module"`` or ``"layer"``.
        num_layers: Number of decoder layers of the model (needed for blocks and layers).
        blocks: Number of contiguous layer groups when ``kind == "blocks"``.
        by_module: Split every block or layer group into its attention and
            MLP parts (``blocks`` and ``layer`` only).
    """

    kind: GranularityKind = "model"
    num_layers: int = 0
    blocks: int = 1
    by_module: bool = False

    def __post_init__(self) -> None:
        if self.kind not in GRANULARITY_KINDS:
            raise MergeError(f"unknown granularity {self.kind!r}; expected one of {', '.join(GRANULARITY_KINDS)}")
        if self.kind == "blocks":
            if self.blocks < 1:
                raise MergeError(f"blocks must be >= 1, got {self.blocks}")
            if self.num_layers < self.blocks:
                raise MergeError(
                    f"blocks={self.blocks} needs at least as many decoder layers, "
                    f"the model has {self.num_layers}"
                )
        if self.kind == "layer" and self.num_layers < 1:
            raise MergeError(f"layer granularity needs the number of decoder layers, got {self.num_layers}")
        if self.by_module and self.kind not in ("blocks", "layer"):
            raise MergeError(f"by_module splits blocks or layers, not {self.kind!r} granularity")

    @property
    def label(self) -> str:
        """The granularity as a config writes it: ``model``, ``layer x module``, ``blocks:4``."""
        base = f"blocks:{self.blocks}" if self.kind == "blocks" else self.kind
        return f"{base} x module" if self.by_module else base

    def _layer_groups(self) -> list[str]:
        if self.kind == "layer":
            return [f"layer{i}" for i in range(self.num_layers)]
        return [f"block{b}" for b in range(self.blocks)]

    def group_names(self) -> tuple[str, ...]:
        """All group names, in a fixed order."""
        if self.kind == "model":
            return ("all",)
        if self.kind == "module":
            return ("attention", "mlp", "other")
        middle = self._layer_groups()
        if self.by_module:
            middle = [f"{group}.{module}" for group in middle for module in ("attention", "mlp")]
        return ("embed", *middle, "head")

    def block_of_layer(self, layer: int) -> int:
        """The block a decoder layer belongs to (near-equal contiguous runs; its own under ``layer``)."""
        if self.kind == "layer":
            return layer
        return min(layer * self.blocks // self.num_layers, self.blocks - 1)

    def group_of(self, place: TensorPlace) -> str:
        """The group of a tensor at ``place`` (its layer and role in the model's layout)."""
        if self.kind == "model":
            return "all"
        if self.kind == "module":
            return place.role if place.role in ("attention", "mlp") else "other"
        if place.layer is not None:
            if not 0 <= place.layer < self.num_layers:
                raise MergeError(
                    f"a tensor is in layer {place.layer}, but the grouping was made for {self.num_layers} layers"
                )
            prefix = "layer" if self.kind == "layer" else "block"
            group = f"{prefix}{self.block_of_layer(place.layer)}"
            if self.by_module:
                return f"{group}.{'mlp' if place.role == 'mlp' else 'attention'}"
            return group
        return "embed" if place.role == "embedding" else "head"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "num_layers": self.num_layers, "blocks": self.blocks}
        if self.by_module:  # absent otherwise, so plans stored before it existed read back equal
            data["by_module"] = True
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TensorGrouping:
        return cls(
            kind=data["kind"],
            num_layers=int(data["num_layers"]),
            blocks=int(data["blocks"]),
            by_module=bool(data.get("by_module", False)),
        )


@dataclass(frozen=True)
class MergePlan:
    """One candidate merge.

    Attributes:
        method: Merge method name (``linear``, ``task_arithmetic``, ``ties``,
            ``dare_linear``, ``dare_ties``, ``della``, ``breadcrumbs``,
            ``slerp``, ``model_stock``).
        sources: Source names, in the order of every params tuple.
        grouping: How tensors map to groups.
        params: Group name -> one :class:`SourceParams` per source.
        options: Method options (``normalize``, ``rescale``, ``lambda``,
            ``epsilon``, ``gamma``, ``t``); absent keys take the method default.
        seed: Seed of random masks (DARE, DELLA); masks are drawn per
            (seed, tensor name), so a plan always merges to the same bits.
    """

    method: str
    sources: tuple[str, ...]
    params: Mapping[str, tuple[SourceParams, ...]]
    grouping: TensorGrouping = field(default_factory=TensorGrouping)
    options: Mapping[str, float | bool] = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(
            self, "params", MappingProxyType({g: tuple(p) for g, p in self.params.items()})
        )
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        expected = set(self.grouping.group_names())
        if set(self.params) != expected:
            raise MergeError(
                f"plan params cover groups {sorted(self.params)}, "
                f"but {self.grouping.kind!r} granularity needs {sorted(expected)}"
            )
        for group, per_source in self.params.items():
            if len(per_source) != len(self.sources):
                raise MergeError(
                    f"group {group!r} has {len(per_source)} source params "
                    f"for {len(self.sources)} sources {list(self.sources)}"
                )

    def params_for(self, place: TensorPlace) -> tuple[SourceParams, ...]:
        """Per-source parameters that apply to a tensor at ``place`` (see :class:`TensorGrouping`)."""
        return self.params[self.grouping.group_of(place)]

    @classmethod
    def uniform(
        cls,
        method: str,
        sources: tuple[str, ...] | list[str],
        weight: float | list[float] = 1.0,
        density: float | list[float] = 1.0,
        options: Mapping[str, float | bool] | None = None,
        seed: int = 0,
    ) -> MergePlan:
        """A model-level plan: one weight and density per source (scalars broadcast)."""
        k = len(sources)
        weights = list(weight) if isinstance(weight, (list, tuple)) else [weight] * k
        densities = list(density) if isinstance(density, (list, tuple)) else [density] * k
        if len(weights) != k or len(densities) != k:
            raise MergeError(f"need {k} weights and densities, got {len(weights)} and {len(densities)}")
        per_source = tuple(SourceParams(float(w), float(d)) for w, d in zip(weights, densities))
        return cls(method, tuple(sources), {"all": per_source}, TensorGrouping(), options or {}, seed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored with every trial, written next to exports)."""
        return {
            "method": self.method,
            "sources": list(self.sources),
            "grouping": self.grouping.to_dict(),
            "params": {
                g: [{"weight": p.weight, "density": p.density} for p in per_source]
                for g, per_source in self.params.items()
            },
            "options": dict(self.options),
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MergePlan:
        return cls(
            method=data["method"],
            sources=tuple(data["sources"]),
            grouping=TensorGrouping.from_dict(data["grouping"]),
            params={
                g: tuple(SourceParams(float(p["weight"]), float(p["density"])) for p in per_source)
                for g, per_source in data["params"].items()
            },
            options=dict(data.get("options", {})),
            seed=int(data.get("seed", 0)),
        )
