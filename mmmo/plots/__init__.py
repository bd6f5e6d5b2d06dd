"""Campaign plots: the front, hypervolume against trials, parameters of the front.

:mod:`mmmo.plots.data` computes what each plot shows from campaign DataFrames;
:mod:`mmmo.plots.draw` draws it with matplotlib (imported only when drawing).
:func:`plot_campaign` writes all three as PNG files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmmo.plots.data import (
    FrontData,
    HypervolumeData,
    ParameterData,
    Point,
    front_data,
    hypervolume_data,
    parameter_columns,
    parameter_data,
)

if TYPE_CHECKING:
    from mmmo.campaign import Campaign

__all__ = [
    "FrontData",
    "HypervolumeData",
    "ParameterData",
    "PlotFiles",
    "Point",
    "campaign_directions",
    "front_data",
    "hypervolume_data",
    "parameter_columns",
    "parameter_data",
    "plot_campaign",
]


@dataclass(frozen=True)
class PlotFiles:
    """The PNG files :func:`plot_campaign` wrote."""

    front: Path
    hypervolume: Path
    parameters: Path

    def __iter__(self):
        return iter((self.front, self.hypervolume, self.parameters))


def campaign_directions(campaign: Campaign) -> dict[str, Any]:
    """Objective name -> direction, in campaign order."""
    directions = campaign.directions
    if isinstance(directions, dict):
        return {name: directions[name] for name in campaign.objective_names}
    return dict(zip(campaign.objective_names, directions))


def plot_campaign(campaign: Campaign, out_dir: str | Path, all_fidelities: bool = False) -> PlotFiles:
    """Write ``front.png``, ``hypervolume.png`` and ``parameters.png`` into ``out_dir``.

    The front and parameter plots show the trials scored on all their
    examples, unless ``all_fidelities`` (screening estimates too).
    """
    from mmmo.plots import draw

    out_dir = Path(out_dir)
    directions = campaign_directions(campaign)
    trials = campaign.trials()
    if not all_fidelities:
        trials = trials[trials["fidelity"] >= 1.0]
    figures = {
        "front": draw.draw_front(front_data(trials, directions)),
        "hypervolume": draw.draw_hypervolume(hypervolume_data(campaign.hypervolume_history())),
        "parameters": draw.draw_parameters(parameter_data(trials, directions), tuple(directions)),
    }
    paths = {name: draw.save(fig, out_dir / f"{name}.png") for name, fig in figures.items()}
    return PlotFiles(**paths)
