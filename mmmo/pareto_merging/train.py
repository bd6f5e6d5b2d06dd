"""One gradient-based run that learns the whole preference -> model map.

Every step draws preferences from a Dirichlet distribution and a batch of
each task, computes the K task losses of the model at each preference (one
forward pass over all tasks' examples), scalarises them with that
preference, and takes an Adam step on the trained factors only. The live
model's weights are never written during training.

Task losses are divided by their value at the starting merge, so a preference
weights relative improvements: tasks whose raw losses differ in scale (an
entropy next to a log-likelihood, an easy task next to a hard one) are then
traded off as the preference says, not as their units happen to say.

References:
    W. Chen, J. Kwok. Pareto Merging: Multi-Objective Optimization for
    Preference-Aware Model Merging. ICML 2025.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from mmmo.errors import ConfigError
from mmmo.pareto_merging.data import Batch, TaskExamples, collate
from mmmo.pareto_merging.losses import (
    ScalarizationName,
    language_modelling_loss,
    prediction_entropy,
    scalarize,
)
from mmmo.pareto_merging.merged import ParetoMergedModel
from mmmo.pareto_merging.preference import sample_preferences


@dataclass(frozen=True)
class TrainingOptions:
    """Settings of one Pareto Merging run.

    Attributes:
        steps: Optimiser steps.
        batch_size: Examples of each task per step.
        learning_rate: Adam learning rate of the correction's factors.
        alpha: Concentration of the symmetric Dirichlet preferences are drawn
            from (1 = uniform on the simplex).
        preferences_per_step: Preferences drawn (and losses averaged) per step.
        scalarization: ``linear``, ``tchebycheff`` or ``smooth_tchebycheff``.
        mu: Smoothing of the smooth Tchebycheff scalarisation.
        normalize: Divide each task loss by its value at the starting merge.
        seed: Seeds preference draws and batch sampling.
    """

    steps: int = 200
    batch_size: int = 16
    learning_rate: float = 3e-2
    alpha: float = 1.0
    preferences_per_step: int = 1
    scalarization: ScalarizationName = "smooth_tchebycheff"
    mu: float = 0.1
    normalize: bool = True
    seed: int = 0


@dataclass(frozen=True)
class TrainingResult:
    """What a run did.

    Attributes:
        steps: Steps taken.
        seconds: Wall time of the run (excluding data preparation).
        initial_losses: Task name -> loss of the starting merge.
        history: Scalarised (normalised) loss of every step.
    """

    steps: int
    seconds: float
    initial_losses: dict[str, float]
    history: tuple[float, ...]


def per_task_losses(
    pm: ParetoMergedModel, preference: Tensor, batch: Batch, kinds: Sequence[str], sizes: Sequence[int]
) -> Tensor:
    """Mean loss of each task's block of examples in one concatenated batch.

    Args:
        preference: Shape ``K``.
        batch: The tasks' examples stacked in task order.
        kinds: ``entropy`` or ``lm`` per task.
        sizes: Number of examples of each task in ``batch``.

    Returns:
        Shape ``K``.
    """
    logits = pm.logits(preference, batch.input_ids, batch.attention_mask)
    entropy = prediction_entropy(logits, batch.target_mask)  # batch
    nll = language_modelling_loss(logits, batch.input_ids, batch.target_mask)  # batch
    losses, start = [], 0
    for kind, size in zip(kinds, sizes):
        block = slice(start, start + size)
        losses.append((entropy if kind == "entropy" else nll)[block].mean())
        start += size
    return torch.stack(losses)


def _batch(
    tasks: Sequence[TaskExamples], indices: Sequence[np.ndarray], pad_id: int, device: torch.device
) -> Batch:
    rows = [
        (task.sequences[i], task.prompt_lengths[i]) for task, idx in zip(tasks, indices) for i in idx
    ]
    return collate(rows, pad_id, device)


@torch.no_grad()
def evaluate_losses(
    pm: ParetoMergedModel,
    tasks: Sequence[TaskExamples],
    preference: Tensor,
    pad_id: int,
    max_examples: int = 64,
) -> Tensor:
    """Task losses at one preference on the first ``max_examples`` of each task.

    Returns:
        Shape ``K``, in the order of ``tasks``.
    """
    device = next(pm.model.parameters()).device
    indices = [np.arange(min(len(t), max_examples)) for t in tasks]
    batch = _batch(tasks, indices, pad_id, device)
    return per_task_losses(pm, preference, batch, [t.loss for t in tasks], [len(i) for i in indices])


def train(
    pm: ParetoMergedModel,
    tasks: Sequence[TaskExamples],
    options: TrainingOptions,
    pad_id: int,
    progress: bool = False,
) -> TrainingResult:
    """Fit the correction of ``pm`` so that each preference's model fits that preference.

    Args:
        pm: The model to train (its correction is updated in place).
        tasks: One entry per task, in the order of ``pm.task_names``.
        options: Steps, batch size, learning rate, scalarisation.
        pad_id: Token id used for right padding.
        progress: Show a progress bar.

    Raises:
        ConfigError: ``tasks`` do not match ``pm.task_names`` or one is empty.
    """
    names = tuple(t.name for t in tasks)
    if names != pm.task_names:
        raise ConfigError(f"task examples {list(names)} do not match the model's tasks {list(pm.task_names)}")
    for task in tasks:
        if len(task) == 0:
            raise ConfigError(f"task {task.name!r} has no examples")
    model_params = list(pm.model.parameters())
    was_trainable = [p.requires_grad for p in model_params]
    for p in model_params:
        p.requires_grad_(False)
    try:
        return _train(pm, tasks, options, pad_id, progress)
    finally:
        for p, flag in zip(model_params, was_trainable):
            p.requires_grad_(flag)


def _train(
    pm: ParetoMergedModel,
    tasks: Sequence[TaskExamples],
    options: TrainingOptions,
    pad_id: int,
    progress: bool,
) -> TrainingResult:
    device = next(pm.model.parameters()).device
    k = len(tasks)
    kinds = [t.loss for t in tasks]
    uniform = torch.full((k,), 1.0 / k)
    # At the start the correction is zero, so any preference gives the starting merge.
    initial = evaluate_losses(pm, tasks, uniform, pad_id).clamp_min(1e-6)
    scale = initial if options.normalize else torch.ones(k)
    rng = np.random.default_rng(options.seed)
    optimizer = torch.optim.Adam(pm.trainable.parameters(), lr=options.learning_rate)
    history: list[float] = []
    steps = range(options.steps)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="pareto merging", unit="step")
    started = time.perf_counter()
    for _ in steps:
        indices = [rng.integers(0, len(t), size=min(options.batch_size, len(t))) for t in tasks]
        batch = _batch(tasks, indices, pad_id, device)
        sizes = [len(i) for i in indices]
        preferences = sample_preferences(k, options.preferences_per_step, options.alpha, rng)
        optimizer.zero_grad(set_to_none=True)
        total = torch.zeros(())
        for preference in preferences:  # each: K
            losses = per_task_losses(pm, preference, batch, kinds, sizes) / scale
            total = total + scalarize(losses, preference, options.scalarization, mu=options.mu)
        total = total / len(preferences)
        total.backward()
        optimizer.step()
        history.append(float(total.detach()))
        if progress:
            steps.set_postfix(loss=f"{history[-1]:.4f}")  # type: ignore[union-attr]
    seconds = time.perf_counter() - started
    return TrainingResult(
        steps=options.steps,
        seconds=seconds,
        initial_losses={t.name: float(v) for t, v in zip(tasks, initial)},
        history=tuple(history),
    )
