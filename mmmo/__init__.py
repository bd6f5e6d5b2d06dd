"""mmmo: multi-objective Bayesian search for the Pareto set of merged language models.

``from mmmo import Campaign`` is the entry point; it is imported on first use,
so ``import mmmo`` stays fast and pulls in neither torch nor transformers.
Importing mmmo never changes the process's environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmmo.config import CampaignConfig, load_config
from mmmo.errors import (
    CampaignLockedError,
    ConfigError,
    MergeError,
    MmmoError,
    ObjectiveError,
    SourceError,
    StoreError,
    ZooError,
)
from mmmo.objectives.base import Measurement, Objective
from mmmo.plan import MergePlan, SourceParams, TensorGrouping
from mmmo.registry import MERGE_METHODS, OBJECTIVES, PROPOSERS

if TYPE_CHECKING:
    from mmmo.campaign import Campaign

__version__ = "0.1.0"

__all__ = [
    "MERGE_METHODS",
    "OBJECTIVES",
    "PROPOSERS",
    "Campaign",
    "CampaignConfig",
    "CampaignLockedError",
    "ConfigError",
    "Measurement",
    "MergeError",
    "MergePlan",
    "MmmoError",
    "Objective",
    "ObjectiveError",
    "SourceError",
    "SourceParams",
    "StoreError",
    "TensorGrouping",
    "ZooError",
    "load_config",
]


def __getattr__(name: str) -> Any:
    if name == "Campaign":
        from mmmo.campaign import Campaign

        globals()["Campaign"] = Campaign
        return Campaign
    raise AttributeError(f"module 'mmmo' has no attribute {name!r}")
