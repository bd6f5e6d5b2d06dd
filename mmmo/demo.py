"""The demo campaign: merge the zoo's experts, one exact-match objective per expert task.

:func:`demo_config` builds the campaign config from a built zoo (see
:mod:`mmmo.zoo`): the base, one expert per task, the model-level DARE-TIES
space (a weight and a density per expert), and each expert's task scored by
greedy exact match on its test split. The default budget keeps ``mmmo demo``,
zoo build included, within ten minutes on two CPU cores.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from mmmo.config import CampaignConfig, parse_config

if TYPE_CHECKING:
    from mmmo.zoo import Zoo

__all__ = ["DEMO_INITIAL", "DEMO_LIMIT", "DEMO_SPACE", "DEMO_TRIALS", "demo_config", "write_config"]

#: Searched trials of the default demo (references not counted).
DEMO_TRIALS = 24
#: Sobol trials before the Bayesian proposer takes over.
DEMO_INITIAL = 8
#: Test examples scored per task and trial.
DEMO_LIMIT = 100
#: Search-space preset: one weight and one density per expert.
DEMO_SPACE = "dare_ties"


def demo_config(
    zoo: Zoo,
    trials: int = DEMO_TRIALS,
    batch_size: int = 1,
    seed: int = 0,
    limit: int | None = DEMO_LIMIT,
) -> CampaignConfig:
    """The demo campaign on ``zoo``: one exact-match objective per expert task."""
    initial = min(DEMO_INITIAL, max(1, trials // 3))
    return parse_config(
        {
            "name": "demo",
            "base": str(zoo.base),
            "models": [{"path": str(zoo.experts[task]), "name": task} for task in zoo.expert_tasks],
            "space": DEMO_SPACE,
            "objectives": [
                {"kind": "exact_match", "name": task, "data": str(zoo.tasks[task].test), "limit": limit}
                for task in zoo.expert_tasks
            ],
            "budget": {"trials": trials, "batch_size": batch_size, "initial": initial},
            "proposer": "qlognehvi",
            "seed": seed,
            "device": "cpu",
        },
        source="demo config",
    )


def write_config(config: CampaignConfig, path: str | Path) -> Path:
    """Write ``config`` as a YAML file that ``mmmo run`` accepts."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config.to_yaml_dict(), sort_keys=False))
    return path
