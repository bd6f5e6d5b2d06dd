"""Proposers: history in, next points of the unit cube out (see :mod:`.base`)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from mmmo.errors import ConfigError
from mmmo.registry import PROPOSERS
from mmmo.search.proposers.base import Proposer
from mmmo.search.proposers.qlognehvi import QLogNEHVIProposer
from mmmo.search.proposers.qlognparego import QLogNParEGOProposer
from mmmo.search.proposers.random import RandomProposer
from mmmo.search.proposers.sobol import SobolProposer

__all__ = [
    "PROPOSERS",
    "Proposer",
    "QLogNEHVIProposer",
    "QLogNParEGOProposer",
    "RandomProposer",
    "SobolProposer",
    "check_dimension",
    "make_proposer",
]

#: Most unit-cube dimensions each of mmmo's model-based proposers is refused
#: beyond (Sobol and random take any). The GP proposers' proposal time grows
#: with the dimension; these are where a proposal at 80 observations stays
#: within ``benchmarks/proposal_overhead.py``'s target on two cores (see
#: ``docs/benchmarks/layers.md``). A user's proposer declares its own with a
#: ``max_dim`` attribute.
MAX_DIM = {"qlognehvi": 128, "qlognparego": 128, "coarse_to_fine": 128, "saas": 320, "auto": 320}


def check_dimension(name: str, dim: int, detail: str | None = None) -> None:
    """Refuse a space of ``dim`` dimensions too large for proposer ``name``.

    Raises:
        ConfigError: Naming the ``proposer`` field, the limit and the space's
            dimensions (``detail``: where they come from).
    """
    limit = MAX_DIM.get(name)
    if limit is None and name in PROPOSERS:
        limit = getattr(PROPOSERS.get(name), "max_dim", None)
    if limit is not None and dim > limit:
        fits = [n for n, most in MAX_DIM.items() if most >= dim]
        hint = f"; use proposer: {' or '.join(fits)}" if fits else "; use a coarser granularity or shared parameters"
        raise ConfigError(
            f"proposer: {name} models at most {limit} dimensions; the space has {detail or f'{dim} dimensions'}{hint}"
        )

def make_proposer(
    name: str,
    seed: int = 0,
    categorical: Mapping[int, Sequence[float]] | None = None,
    ties: Sequence[int] | None = None,
    **options: Any,
) -> Proposer:
    """A proposer by its registered name (``sobol``, ``random``, ``qlognehvi``,
    ``qlognparego``, ``saas``, ``auto``, or a user's, see :mod:`mmmo.registry`).

    ``categorical`` (the space's categorical coordinates, column -> unit values)
    goes to proposers whose constructor takes it; the others draw those
    coordinates like any other, and the space decodes them by their bins.
    ``ties`` (each coordinate's model-level coordinate,
    :attr:`~mmmo.search.space.SearchSpace.coarse_ties`) likewise goes to
    those that take it. ``options`` go to the proposer's constructor (e.g.
    ``num_restarts``).

    Raises:
        ConfigError: An unknown name, listing the known ones.
    """
    factory = PROPOSERS.get(name)
    if categorical and _takes(factory, "categorical"):
        options["categorical"] = categorical
    if ties is not None and _takes(factory, "ties", named=True):
        options["ties"] = ties
    return factory(seed=seed, **options)


def _takes(factory: Any, argument: str, named: bool = False) -> bool:
    """Whether ``factory`` takes ``argument`` (by name, or through ``**options`` unless ``named``)."""
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    if argument in parameters:
        return True
    return not named and any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
