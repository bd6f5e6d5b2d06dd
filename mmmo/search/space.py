"""A search space: unit-cube vectors to merge plans and back.

A :class:`SearchSpace` is built from a :class:`~mmmo.config.SpaceConfig` and
the models it will be used on (source names, and the base's
:class:`~mmmo.sources.layout.TensorLayout`, or only its number of decoder
layers when a stored campaign is reopened), and refuses, with the config field
named, a space that does not fit them.

Layout of a unit vector ``x`` (``d = space.dim``):

- ``method`` first, when the space offers a choice of methods: a categorical
  coordinate. Each method owns ``1 / len(methods)`` of the axis, so any point
  decodes to one; a method is encoded at the centre of its share, and the
  model-based proposers search it as a category (:attr:`SearchSpace.categorical`),
  one value per method, never between two.
- then, for every tensor group of the space's granularity
  (``TensorGrouping.group_names()`` order), for every source, ``weight`` and
  then ``density`` where each is searched at that granularity;
- then each parameter searched at a coarser granularity of its own
  (:mod:`~mmmo.search.granularity`), for each of its groups, for every source.

Names follow the groups: ``method``, ``weight[all][math]``,
``density[block2][code]``, ``weight[layer5.mlp][code]``. A parameter that is
not searched is fixed at ``weight = 1.0`` and ``density = 1.0``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from mmmo.config import SpaceConfig
from mmmo.errors import ConfigError
from mmmo.plan import MergePlan, SourceParams
from mmmo.registry import MERGE_METHODS
from mmmo.search.granularity import coarsening, grouping_of

if TYPE_CHECKING:
    from mmmo.sources.layout import TensorLayout

__all__ = ["SearchSpace", "density_methods"]

FIXED_VALUES = {"weight": 1.0, "density": 1.0}

#: Task-vector methods that merge a plan of density 1 whose weights are all 0
#: but at most one 1 to exactly ``base + delta`` of that source (or the base):
#: nothing is dropped or trimmed at density 1, a lone voter elects its own
#: signs, zero-weight sources neither vote nor count in a normalising divisor,
#: and a divisor of one weight 1 is 1. So the base and each source on its own
#: are points of any space over these methods (with ``lambda`` 1), and a
#: campaign's reference trials can tell the surrogate where they are.
#: ``tests/search/test_space_merge.py`` merges both forms and compares them.
SINGLE_SOURCE_EXACT = frozenset({"task_arithmetic", "ties", "dare_ties", "dare_linear"})


class SearchSpace:
    """The unit cube ``[0, 1]^d`` mapped onto merge plans.

    Args:
        space: The validated space config.
        source_names: Names of the source models, in the order plans use.
        num_layers: Number of decoder layers of the models (taken from
            ``layout`` when it is given).
        layout: The base model's tensor layout; when given, a granularity
            whose groups would be empty (e.g. ``module`` on a model without
            attention tensors) is refused.

    Raises:
        ConfigError: Naming the field (``space.granularity.blocks``,
            ``space.parameters.density``, ``space.method``, ...) when the space
            does not fit the models.
    """

    def __init__(
        self,
        space: SpaceConfig,
        source_names: Sequence[str],
        num_layers: int | None = None,
        layout: TensorLayout | None = None,
    ) -> None:
        if layout is not None:
            if num_layers is not None and num_layers != layout.num_layers:
                raise ConfigError(
                    f"space: built for {num_layers} decoder layers, the model has {layout.num_layers}"
                )
            num_layers = layout.num_layers
        if num_layers is None:
            raise TypeError("SearchSpace needs the model's layout or its number of decoder layers")
        self.space = space
        self.source_names = tuple(source_names)
        self.methods = space.methods
        self._validate(num_layers)
        self.grouping = grouping_of(space.granularity, num_layers, "space.granularity.blocks")
        if layout is not None:
            self._check_groups_present(layout)
        self.searched = tuple(p for p in ("weight", "density") if p in space.parameters)
        # Each searched parameter's own grouping, and the map from the plan's groups to its groups.
        self.param_groupings = {}
        self._group_maps: dict[str, dict[str, str]] = {}
        for param in self.searched:
            own = space.parameters[param].granularity
            field = f"space.parameters.{param}.granularity"
            grouping = self.grouping if own is None else grouping_of(own, num_layers, field)
            self.param_groupings[param] = grouping
            self._group_maps[param] = dict(coarsening(self.grouping, grouping, field))
        self.shared = tuple(p for p in self.searched if self.param_groupings[p] != self.grouping)
        names: list[str] = ["method"] if len(self.methods) > 1 else []
        slots: list[tuple[str, str, int]] = []
        for group in self.grouping.group_names():
            for k in range(len(self.source_names)):
                slots.extend((param, group, k) for param in self.searched if param not in self.shared)
        for param in self.shared:
            for group in self.param_groupings[param].group_names():
                slots.extend((param, group, k) for k in range(len(self.source_names)))
        names.extend(f"{param}[{group}][{self.source_names[k]}]" for param, group, k in slots)
        self._slots = tuple(slots)
        self.parameter_names: tuple[str, ...] = tuple(names)

    @property
    def categorical(self) -> dict[int, tuple[float, ...]]:
        """Categorical coordinates: index -> the unit values of its categories (the method choice)."""
        if len(self.methods) < 2:
            return {}
        k = len(self.methods)
        return {0: tuple((i + 0.5) / k for i in range(k))}

    def describe(self) -> str:
        """The dimension count and where it comes from, for messages."""
        shared = "".join(f", {p} at {self.param_groupings[p].label}" for p in self.shared)
        method = " + 1 method choice" if len(self.methods) > 1 else ""
        return (
            f"{self.dim} dimensions ({self.grouping.label} granularity: {len(self.grouping.group_names())} "
            f"groups x {len(self.source_names)} sources x {list(self.searched)}{shared}{method})"
        )

    @property
    def coarse_ties(self) -> tuple[int, ...]:
        """Each coordinate's coordinate in the model-level space of the same parameters.

        That space (the same methods, parameters and bounds at ``model``
        granularity) has ``method`` first when searched, then ``weight`` and
        ``density`` of each source. A point ``z`` of it is the point
        ``z[list(coarse_ties)]`` of this space: every group of a source gets
        the source's value, so the model-level merges are a subspace here.
        """
        offset = 1 if len(self.methods) > 1 else 0
        ties = [0] * offset
        ties.extend(offset + k * len(self.searched) + self.searched.index(param) for param, _, k in self._slots)
        return tuple(ties)

    @property
    def dim(self) -> int:
        """Number of unit-cube dimensions ``d``."""
        return len(self.parameter_names)

    @property
    def bounds(self) -> Tensor:
        """``2 x d`` unit-cube bounds, as BoTorch optimisers expect."""
        return torch.stack([torch.zeros(self.dim), torch.ones(self.dim)]).double()

    def _validate(self, num_layers: int) -> None:
        space = self.space
        if not self.source_names:
            raise ConfigError("models: a search space needs at least one source model")
        if len(set(self.source_names)) != len(self.source_names):
            raise ConfigError(f"models: source names must be unique, got {list(self.source_names)}")
        methods = [MERGE_METHODS.get(name) for name in self.methods]
        if "density" in space.parameters and not any(m.uses_density for m in methods):
            raise ConfigError(
                f"space.parameters.density: method(s) {list(self.methods)} ignore density; "
                f"search density only with one of {density_methods()}"
            )
        count = len(self.source_names)
        for method in methods:
            if count < method.min_sources or (method.max_sources is not None and count > method.max_sources):
                low, high = _count_word(method.min_sources), _count_word(method.max_sources)
                wanted = f"exactly {low}" if low == high else f"at least {low}" if high is None else f"{low} to {high}"
                raise ConfigError(
                    f"space.method: {method.name} merges {wanted} models, "
                    f"got {count} sources {list(self.source_names)}"
                )
        for name, bounds in space.parameters.items():
            if not (math.isfinite(bounds.low) and math.isfinite(bounds.high)):
                raise ConfigError(
                    f"space.parameters.{name}: bounds must be finite, got [{bounds.low}, {bounds.high}]"
                )

    def _check_groups_present(self, layout: TensorLayout) -> None:
        present = {self.grouping.group_of(place) for place in layout.places.values()}
        missing = [g for g in self.grouping.group_names() if g not in present]
        if missing:
            raise ConfigError(
                f"space.granularity: group(s) {missing} of {self.grouping.label!r} granularity "
                f"match no tensor of the model"
            )

    # -- decoding -----------------------------------------------------------

    def decode(self, x: Tensor, seed: int = 0) -> MergePlan:
        """The merge plan of one unit vector.

        Args:
            x: ``d`` unit-cube coordinates (values outside ``[0, 1]`` are clipped).
            seed: Seed of the plan's random masks (DARE, DELLA).
        """
        values = [min(max(float(v), 0.0), 1.0) for v in x.reshape(-1).tolist()]
        if len(values) != self.dim:
            raise ConfigError(f"expected a vector of {self.dim} coordinates, got {len(values)}")
        position = 0
        method = self.methods[0]
        if len(self.methods) > 1:
            method = self.methods[min(int(values[0] * len(self.methods)), len(self.methods) - 1)]
            position = 1
        chosen: dict[tuple[str, str, int], float] = {}
        for (param, group, k), value in zip(self._slots, values[position:]):
            bounds = self.space.parameters[param]
            chosen[param, group, k] = bounds.low + value * (bounds.high - bounds.low)
        params: dict[str, tuple[SourceParams, ...]] = {}
        for group in self.grouping.group_names():
            per_source = []
            for k in range(len(self.source_names)):
                fields = dict(FIXED_VALUES)
                for param in self.searched:
                    fields[param] = chosen[param, self._group_maps[param][group], k]
                per_source.append(SourceParams(**fields))
            params[group] = tuple(per_source)
        return MergePlan(
            method=method,
            sources=self.source_names,
            params=params,
            grouping=self.grouping,
            options=dict(self.space.options),
            seed=seed,
        )

    # -- encoding -----------------------------------------------------------

    def values(self, plan: MergePlan) -> dict[str, float]:
        """Each searched parameter's value in a plan, by parameter name.

        A model-level plan is broadcast to every group of a finer space. The
        ``method`` entry (when searched) is the method's index in the choice.
        Parameters the plan cannot speak for are ``nan``.
        """
        out: dict[str, float] = {}
        if len(self.methods) > 1:
            out["method"] = float(self.methods.index(plan.method)) if plan.method in self.methods else math.nan
        same_sources = tuple(plan.sources) == self.source_names
        per_group = {g: self._plan_group(plan, g) if same_sources else None for g in self.grouping.group_names()}
        for param, group, k in self._slots:
            # A shared parameter's value is read from the first plan group it covers.
            first = next(g for g in self.grouping.group_names() if self._group_maps[param][g] == group)
            params = per_group[first]
            value = math.nan if params is None else getattr(params[k], param)
            out[f"{param}[{group}][{self.source_names[k]}]"] = float(value)
        return out

    def _plan_group(self, plan: MergePlan, group: str) -> tuple[SourceParams, ...] | None:
        if plan.grouping.kind == "model":
            return plan.params["all"]
        if plan.grouping.group_names() == self.grouping.group_names():
            return plan.params[group]
        return None

    def encode(self, plan: MergePlan) -> Tensor:
        """The unit vector of a plan (``d``, float64).

        Raises:
            ConfigError: When the plan is not a point of this space (another
                method or sources, another grouping, a value out of bounds, a
                fixed parameter at another value).
        """
        if plan.method not in self.methods:
            raise ConfigError(f"plan method {plan.method!r} is not in the space's {list(self.methods)}")
        if tuple(plan.sources) != self.source_names:
            raise ConfigError(f"plan sources {list(plan.sources)} differ from {list(self.source_names)}")
        for group in self.grouping.group_names():
            per_source = self._plan_group(plan, group)
            if per_source is None:
                raise ConfigError(
                    f"plan grouping {plan.grouping.kind!r} does not fit the space's {self.grouping.kind!r}"
                )
            for params in per_source:
                for param, fixed in FIXED_VALUES.items():
                    if param not in self.searched and getattr(params, param) != fixed:
                        raise ConfigError(f"plan sets {param}={getattr(params, param)}, fixed at {fixed} here")
        self._check_shared(plan)
        coordinates = []
        for name, value in self.values(plan).items():
            if name == "method":
                coordinates.append((value + 0.5) / len(self.methods))
                continue
            bounds = self.space.parameters[name.split("[", 1)[0]]
            if not bounds.low - 1e-9 <= value <= bounds.high + 1e-9:
                raise ConfigError(f"{name}={value} is outside its bounds [{bounds.low}, {bounds.high}]")
            coordinates.append(min(max((value - bounds.low) / (bounds.high - bounds.low), 0.0), 1.0))
        return torch.tensor(coordinates, dtype=torch.float64)

    def _check_shared(self, plan: MergePlan) -> None:
        """Refuse a plan whose shared parameter differs inside one of its groups."""
        for param in self.shared:
            seen: dict[tuple[str, int], float] = {}
            for group in self.grouping.group_names():
                per_source = self._plan_group(plan, group)
                for k, params in enumerate(per_source or ()):
                    key = (self._group_maps[param][group], k)
                    value = getattr(params, param)
                    if seen.setdefault(key, value) != value:
                        raise ConfigError(
                            f"plan sets {param} of {self.source_names[k]!r} to {seen[key]} and {value} inside "
                            f"group {key[0]!r}, where the space shares one value"
                        )

    def try_encode(self, plan: MergePlan) -> Tensor | None:
        """:meth:`encode`, or ``None`` when the plan is not a point of this space.

        A plan of another method that merges to exactly the same weights as a
        point of this space (the base, or one source alone: see
        :data:`SINGLE_SOURCE_EXACT`) is encoded as that point.
        """
        for candidate in (plan, self._single_source_equivalent(plan)):
            if candidate is None:
                continue
            try:
                return self.encode(candidate)
            except ConfigError:
                continue
        return None

    def _single_source_equivalent(self, plan: MergePlan) -> MergePlan | None:
        """The same merge as a plan of this space's method, when :data:`SINGLE_SOURCE_EXACT` allows it."""
        if plan.method not in SINGLE_SOURCE_EXACT or plan.grouping.kind != "model":
            return None
        if float(plan.options.get("lambda", 1.0)) != 1.0 or float(self.space.options.get("lambda", 1.0)) != 1.0:
            return None
        params = plan.params["all"]
        weights = [p.weight for p in params]
        if any(p.density != 1.0 for p in params) or any(w not in (0.0, 1.0) for w in weights) or sum(weights) > 1:
            return None
        method = next((m for m in self.methods if m in SINGLE_SOURCE_EXACT), None)
        if method is None or method == plan.method:
            return None
        return MergePlan.uniform(method, plan.sources, weights, 1.0, options=dict(self.space.options), seed=plan.seed)


def density_methods() -> list[str]:
    """Names of the registered merge methods that read densities (fraction kept)."""
    names = []
    for name in MERGE_METHODS.names():
        try:
            if MERGE_METHODS.get(name).uses_density:
                names.append(name)
        except ConfigError:
            continue  # a user's method that cannot be loaded is reported where it is used
    return names


def _count_word(n: int | None) -> str | None:
    words = {1: "one", 2: "two", 3: "three", 4: "four"}
    return None if n is None else words.get(n, str(n))
