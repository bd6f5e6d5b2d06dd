"""Proposers: history in, next points of the unit cube out (see :mod:`.base`)."""

from __future__ import annotations

from typing import Any

from mmmo.errors import ConfigError
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
    "make_proposer",
]

PROPOSERS: dict[str, type] = {
    "sobol": SobolProposer,
    "random": RandomProposer,
    "qlognehvi": QLogNEHVIProposer,
    "qlognparego": QLogNParEGOProposer,
}


def make_proposer(name: str, seed: int = 0, **options: Any) -> Proposer:
    """A proposer by name (``sobol``, ``random``, ``qlognehvi``, ``qlognparego``).

    ``options`` go to the proposer's constructor (e.g. ``num_restarts``).
    """
    if name not in PROPOSERS:
        raise ConfigError(f"proposer: unknown proposer {name!r}; expected one of {sorted(PROPOSERS)}")
    return PROPOSERS[name](seed=seed, **options)
