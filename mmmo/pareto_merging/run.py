"""``mmmo pareto-merge CONFIG``: load, merge, train, evaluate a grid, store it.

The run writes into ``out`` the trained correction
(``pareto_correction.safetensors`` + ``pareto_merging.json``, enough to dial
any preference later with :meth:`ParetoMergedModel.load_correction`) and
``summary.json``; the evaluated grid goes into the campaign at ``db``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mmmo.errors import ConfigError, StoreError
from mmmo.pareto_merging.config import ParetoMergeConfig, TaskSpec, load_pareto_config
from mmmo.pareto_merging.data import TaskExamples, labelled_examples, read_prompts, unlabelled_examples
from mmmo.pareto_merging.grid import GridPoint, evaluate_grid
from mmmo.pareto_merging.merged import CORRECTION_FILE, METADATA_FILE, ParetoMergedModel, largest_rank
from mmmo.pareto_merging.preference import simplex_grid
from mmmo.pareto_merging.train import TrainingOptions, TrainingResult, train
from mmmo.plan import MergePlan

SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class ParetoMergeRun:
    """The outcome of :func:`run_from_config`.

    Attributes:
        model: The trained model (its live model is left at the last grid point).
        plan: The starting merge.
        training: Steps, time and losses of the training run.
        grid: The evaluated preferences, in order.
        campaign: The campaign holding the grid as trials.
        db: The campaign file.
        out: The folder with the correction and summary.
    """

    model: ParetoMergedModel
    plan: MergePlan
    training: TrainingResult
    grid: list[GridPoint]
    campaign: Any
    db: Path
    out: Path

    def __str__(self) -> str:
        return summary_text(self.model, self.training, self.grid, self.db, self.out)


def _device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def build_task_examples(
    spec: TaskSpec, tokenizer: Any, model: torch.nn.Module, max_new_tokens: int, seed: int
) -> TaskExamples:
    """Read and tokenize one task (generating continuations for ``entropy``)."""
    rows = read_prompts(spec.data, spec.loss, spec.limit, seed)
    if spec.loss == "lm":
        return labelled_examples(spec.name, rows, tokenizer)
    return unlabelled_examples(spec.name, rows, tokenizer, model, max_new_tokens)


def training_options(config: ParetoMergeConfig) -> TrainingOptions:
    t = config.training
    return TrainingOptions(
        steps=t.steps,
        batch_size=t.batch_size,
        learning_rate=t.learning_rate,
        alpha=t.alpha,
        preferences_per_step=t.preferences_per_step,
        scalarization=t.scalarization,
        mu=t.mu,
        normalize=t.normalize,
        seed=config.seed,
    )


def build_pareto_model(
    config: ParetoMergeConfig, pool: Any, model: torch.nn.Module, plan: MergePlan
) -> ParetoMergedModel:
    """The untrained model on top of the starting merge, within the parameter budget."""
    correction = config.correction
    rank = correction.rank or largest_rank(
        model,
        correction.targets,
        len(config.tasks),
        len(pool.names) if correction.task_scaling else 0,
        correction.max_extra_fraction,
    )
    pm = ParetoMergedModel(
        model,
        config.task_names,
        targets=correction.targets,
        rank=rank,
        seed=config.seed,
        tokenizer=pool.tokenizer,
        plan=plan,
        task_vectors={n: pool.delta(n) for n in pool.names} if correction.task_scaling else None,
    )
    pm.origin = {
        "base": str(config.base),
        "sources": {m.display_name: str(m.path) for m in config.models},
        "dtype": config.dtype,
    }
    pm.check_budget(correction.max_extra_fraction)
    return pm


def write_summary(
    path: Path, pm: ParetoMergedModel, result: TrainingResult, points: list[GridPoint], db: Path
) -> None:
    """``summary.json``: parameter counts, training, and every grid point's scores."""
    summary = {
        "extra_parameters": pm.num_extra_parameters,
        "model_parameters": pm.num_model_parameters,
        "extra_fraction": pm.extra_fraction,
        "rank": pm.correction.rank,
        "training_seconds": result.seconds,
        "training_steps": result.steps,
        "initial_losses": result.initial_losses,
        "final_loss": result.history[-1] if result.history else None,
        "db": str(db),
        "grid": [
            {
                "trial_id": p.trial_id,
                "preference": p.preference,
                "objectives": {n: m.value for n, m in p.measurements.items()},
            }
            for p in points
        ],
    }
    path.write_text(json.dumps(summary, indent=2) + "\n")


def run_from_config(
    config_path: str | Path | ParetoMergeConfig,
    db: str | Path | None = None,
    out: str | Path | None = None,
    progress: bool = True,
) -> ParetoMergeRun:
    """Run Pareto Merging as a config describes and store its preference grid.

    Args:
        config_path: A YAML file (or an already validated config).
        db: The campaign file to create (default ``<out>/campaign.db``).
        out: Folder for the correction and summary (default ``runs/<name>``).
        progress: Show progress bars (``str(run)`` is the summary to print).

    Raises:
        ConfigError: the config is invalid or its data cannot be read.
        SourceError: a model is missing or the models do not fit together.
        StoreError: the campaign file exists already or cannot be created.
    """
    from mmmo.campaign import Campaign
    from mmmo.merge import Merger
    from mmmo.objectives import build_objectives
    from mmmo.sources import ModelPool

    config = config_path if isinstance(config_path, ParetoMergeConfig) else load_pareto_config(config_path)
    out_dir = Path(out) if out is not None else Path("runs") / config.name
    db_path = Path(db) if db is not None else out_dir / "campaign.db"
    if db_path.exists():
        raise StoreError(f"campaign file {db_path} already exists; choose another db path")
    preferences = simplex_grid(len(config.tasks), config.grid.steps)
    campaign_config = config.campaign_config(len(preferences))
    torch.manual_seed(config.seed)

    pool = ModelPool.load(
        config.base,
        {m.display_name: m.path for m in config.models},
        dtype=getattr(torch, config.dtype),
    )
    tokenizer = pool.tokenizer
    if tokenizer is None:
        raise ConfigError(f"base: no tokenizer found in {config.base}; Pareto Merging needs one")
    # Objectives read their data now, so a bad objective fails before training.
    objectives = build_objectives(config.objectives, tokenizer, base_state=pool.base_state)
    merger = Merger(pool, device=_device(config.device))
    plan = config.start.build_plan(pool.names, config.seed)
    merger.apply(plan)

    pm = build_pareto_model(config, pool, merger.model, plan)
    tasks = [
        build_task_examples(spec, tokenizer, merger.model, config.training.max_new_tokens, config.seed)
        for spec in config.tasks
    ]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    result = train(pm, tasks, training_options(config), pad_id, progress=progress)
    pm.save_correction(out_dir)

    campaign = Campaign.create(db_path, campaign_config)
    points = evaluate_grid(pm, preferences, objectives, tokenizer, campaign=campaign, progress=progress)

    write_summary(out_dir / SUMMARY_FILE, pm, result, points, db_path)
    return ParetoMergeRun(pm, plan, result, points, campaign, db_path, out_dir)


def load_run(out_dir: str | Path, device: str = "cpu") -> ParetoMergedModel:
    """Rebuild a trained model from a run's folder, ready for :meth:`ParetoMergedModel.model_for`.

    Reloads the base and sources named in ``pareto_merging.json``, applies the
    starting plan and loads the saved correction: any preference can then be
    dialled without retraining.

    Raises:
        ConfigError: the folder holds no saved run, or it does not fit the models.
    """
    from mmmo.merge import Merger
    from mmmo.sources import ModelPool

    folder = Path(out_dir)
    meta_path = folder / METADATA_FILE
    if not meta_path.is_file() or not (folder / CORRECTION_FILE).is_file():
        raise ConfigError(f"{folder}: no saved Pareto Merging run ({METADATA_FILE}, {CORRECTION_FILE})")
    meta = json.loads(meta_path.read_text())
    origin, plan_data = meta.get("origin"), meta.get("plan")
    if not origin or not plan_data:
        raise ConfigError(f"{meta_path}: lacks the models ('origin') or the starting plan ('plan')")
    pool = ModelPool.load(origin["base"], origin["sources"], dtype=getattr(torch, origin["dtype"]))
    merger = Merger(pool, device=device)
    plan = MergePlan.from_dict(plan_data)
    merger.apply(plan)
    sources = meta.get("task_scaling_sources") or []
    pm = ParetoMergedModel(
        merger.model,
        meta["task_names"],
        targets=meta["targets"],
        rank=meta["rank"],
        tokenizer=pool.tokenizer,
        plan=plan,
        task_vectors={n: pool.delta(n) for n in sources} or None,
    )
    pm.origin = origin
    pm.load_correction(folder / CORRECTION_FILE)
    return pm


def summary_text(
    pm: ParetoMergedModel, result: TrainingResult, points: list[GridPoint], db: Path, out: Path
) -> str:
    """A few lines for the terminal: parameter count, training time, the grid's scores."""
    lines = [
        f"extra parameters: {pm.num_extra_parameters} "
        f"({pm.extra_fraction:.3%} of {pm.num_model_parameters}); "
        f"trained {result.steps} steps in {result.seconds:.1f} s"
    ]
    if points:
        header = ["trial", *(f"p[{n}]" for n in pm.task_names), *points[0].measurements]
        widths = [max(8, len(h)) for h in header]
        lines.append("  ".join(h.rjust(w) for h, w in zip(header, widths)))
        for p in points:
            cells = [str(p.trial_id if p.trial_id is not None else "-")]
            cells += [f"{v:.2f}" for v in p.preference.values()]
            cells += [f"{m.value:.4f}" if m.ok else "failed" for m in p.measurements.values()]
            lines.append("  ".join(c.rjust(w) for c, w in zip(cells, widths)))
    lines.append(f"campaign: {db}")
    lines.append(f"correction: {out}")
    return "\n".join(lines)
