"""mmmo: multi-objective Bayesian search for the Pareto set of merged language models."""

from mmmo.cache import configure_environment as _configure_environment

_configure_environment()

from mmmo.config import CampaignConfig, load_config  # noqa: E402
from mmmo.errors import (  # noqa: E402
    CampaignLockedError,
    ConfigError,
    MergeError,
    MmmoError,
    ObjectiveError,
    SourceError,
    StoreError,
    ZooError,
)
from mmmo.objectives.base import Measurement, Objective  # noqa: E402
from mmmo.plan import MergePlan, SourceParams, TensorGrouping  # noqa: E402

__version__ = "0.1.0"

__all__ = [
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
