"""Reload an exported merge with ``transformers`` and score it again.

An exported checkpoint is only useful if a plain
``AutoModelForCausalLM.from_pretrained`` gives back the model the campaign
measured. :func:`check_reload` loads the folder that way (its own tokenizer
too), scores it on the campaign's data objectives, rebuilt with the
campaign's data seed so they draw the same examples, and compares each
score with the one stored for the trial.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mmmo.campaign import Campaign

__all__ = ["ReloadCheck", "check_reload"]

#: Scores are fractions of the same examples, so a faithful export matches to rounding.
TOLERANCE = 1e-9


@dataclass(frozen=True)
class ReloadCheck:
    """Stored and reloaded scores of one exported trial.

    Attributes:
        trial_id: The exported trial.
        path: The exported folder.
        model_class: The class ``from_pretrained`` built.
        stored, reloaded: Objective name -> score (the campaign's; the reloaded model's).
    """

    trial_id: int
    path: Path
    model_class: str
    stored: dict[str, float]
    reloaded: dict[str, float]

    @property
    def matches(self) -> bool:
        return set(self.stored) == set(self.reloaded) and all(
            math.isclose(self.stored[n], self.reloaded[n], abs_tol=TOLERANCE) for n in self.stored
        )

    def text(self) -> str:
        cells = ", ".join(f"{n} {self.stored[n]:.3f} -> {self.reloaded[n]:.3f}" for n in self.stored)
        verdict = "same scores" if self.matches else "SCORES DIFFER"
        return f"reloaded {self.path} as {self.model_class}: {verdict} ({cells})"


def check_reload(campaign: Campaign, trial_id: int, path: str | Path) -> ReloadCheck:
    """Load ``path`` (trial ``trial_id``'s export) with transformers and rescore it."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mmmo.objectives import build_objectives, evaluate_objectives

    path = Path(path)
    # The dtype the campaign merged in ("auto": the checkpoint's own, as the campaign reads the base's).
    dtype = "auto" if campaign.config.dtype == "auto" else getattr(torch, campaign.config.dtype)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    specs = [spec for spec in campaign.config.objectives if spec.data is not None]
    objectives = build_objectives(specs, tokenizer, seed=campaign.data_seed)
    measured = evaluate_objectives(objectives, model, tokenizer)
    row = campaign.trials().set_index("trial_id").loc[trial_id]
    stored = {spec.resolved_name: float(row[spec.resolved_name]) for spec in specs}
    reloaded = {name: float("nan") if m.value is None else float(m.value) for name, m in measured.items()}
    return ReloadCheck(trial_id, path, type(model).__name__, stored, reloaded)
