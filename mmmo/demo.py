"""The demo campaign: merge the zoo's experts, one exact-match objective per expert task.

:func:`demo_config` builds the campaign config from a built zoo (see
:mod:`mmmo.zoo`): the base, one expert per task, the model-level DARE-TIES
space (a weight and a density per expert), and each expert's task scored by
greedy exact match on its test split. The default budget aims at ``mmmo demo``
finishing, zoo build included, within ten minutes on two idle CPU cores; the
README's performance table holds the measured time.

:func:`real_demo_config` is ``mmmo demo --real``: the same campaign on the
real zoo (:mod:`mmmo.realzoo`), SmolLM2-135M-Instruct with its LoRA adapters
as sources, one objective per expert task and the held-out task scored as a
``report_only`` objective (its side effects shown, never searched on).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from mmmo.config import CampaignConfig, parse_config

if TYPE_CHECKING:
    from mmmo.realzoo import RealZoo
    from mmmo.zoo import Zoo

__all__ = [
    "DEMO_BATCH_SIZE",
    "DEMO_INITIAL",
    "DEMO_LIMIT",
    "DEMO_SPACE",
    "DEMO_TRIALS",
    "REAL_DEMO_LIMIT",
    "REAL_DEMO_TRIALS",
    "demo_config",
    "real_demo_config",
    "write_config",
]

#: Searched trials of the default demo (references not counted): the design's
#: five, then enough qLogNEHVI batches for the search to find trade-offs
#: between pairs of experts that neither the design nor any recipe reaches.
DEMO_TRIALS = 40
#: Sobol trials before the Bayesian proposer takes over.
DEMO_INITIAL = 8
#: Trials proposed at once: one qLogNEHVI proposal per batch of four keeps the
#: proposer's share of the demo's time small on a CPU.
DEMO_BATCH_SIZE = 4
#: Test examples scored per task and trial.
DEMO_LIMIT = 100
#: Search-space preset: one weight and one density per expert.
DEMO_SPACE = "dare_ties"

#: Searched trials of ``mmmo demo --real``.
REAL_DEMO_TRIALS = 30
#: Test examples scored per task and trial on the real zoo: sized so the real
#: demo finishes within twenty minutes on two CPU cores once the zoo is built
#: (the README's performance table holds the measured time).
REAL_DEMO_LIMIT = 32


def demo_config(
    zoo: Zoo,
    trials: int = DEMO_TRIALS,
    batch_size: int = DEMO_BATCH_SIZE,
    seed: int = 0,
    limit: int | None = DEMO_LIMIT,
) -> CampaignConfig:
    """The demo campaign on ``zoo``: one exact-match objective per expert task."""
    # Two fifths of a small budget is space-filling, so a short run still models.
    initial = min(DEMO_INITIAL, max(1, trials * 2 // 5))
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


def real_demo_config(
    zoo: RealZoo,
    trials: int = REAL_DEMO_TRIALS,
    batch_size: int = DEMO_BATCH_SIZE,
    seed: int = 0,
    limit: int | None = REAL_DEMO_LIMIT,
) -> CampaignConfig:
    """The demo campaign on the real zoo: LoRA adapters as sources, the held-out tasks report-only."""
    initial = min(DEMO_INITIAL, max(1, trials * 2 // 5))

    def objective(task: str, report_only: bool) -> dict:
        return {"kind": "exact_match", "name": task, "data": str(zoo.tests[task]), "limit": limit,
                "report_only": report_only}

    return parse_config(
        {
            "name": "real-demo",
            "base": str(zoo.base),
            "models": [{"path": str(zoo.adapters[task]), "name": task} for task in zoo.expert_tasks],
            "space": DEMO_SPACE,
            "objectives": [objective(t, False) for t in zoo.expert_tasks]
            + [objective(t, True) for t in zoo.held_out_tasks],
            "budget": {"trials": trials, "batch_size": batch_size, "initial": initial},
            "proposer": "qlognehvi",
            "seed": seed,
            "device": "cpu",
        },
        source="real demo config",
    )


def write_config(config: CampaignConfig, path: str | Path) -> Path:
    """Write ``config`` as a YAML file that ``mmmo run`` accepts."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config.to_yaml_dict(), sort_keys=False))
    return path
