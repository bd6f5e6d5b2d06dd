"""Proposers: history in, next points of the unit cube out (see :mod:`.base`)."""

from __future__ import annotations

from typing import Any

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
    "make_proposer",
]

def make_proposer(name: str, seed: int = 0, **options: Any) -> Proposer:
    """A proposer by its registered name (``sobol``, ``random``, ``qlognehvi``,
    ``qlognparego``, or a user's, see :mod:`mmmo.registry`).

    ``options`` go to the proposer's constructor (e.g. ``num_restarts``).

    Raises:
        ConfigError: An unknown name, listing the known ones.
    """
    return PROPOSERS.get(name)(seed=seed, **options)
