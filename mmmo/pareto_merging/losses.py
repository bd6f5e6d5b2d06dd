"""Per-task losses and the scalarisations that weight them by a preference.

Per-task losses, on a batch of one task (``batch x seq`` token ids and a
``batch x seq`` mask marking the tokens whose prediction counts):

- :func:`prediction_entropy`: the Shannon entropy of the model's next-token
  distribution, AdaMerging's label-free surrogate (a confident model on a
  task's inputs is, empirically, an accurate one);
- :func:`language_modelling_loss`: the negative log-likelihood of the marked
  tokens, for a labelled proxy set.

Scalarisations turn K losses and a preference into one number to minimise:
linear, Tchebycheff and smooth Tchebycheff.

References:
    E. Yang et al. AdaMerging: Adaptive Model Merging for Multi-Task
    Learning. ICLR 2024.
    X. Lin et al. Smooth Tchebycheff Scalarization for Multi-Objective
    Optimization. ICML 2024.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

ScalarizationName = Literal["linear", "tchebycheff", "smooth_tchebycheff"]


def _shifted(logits: Tensor, target_mask: Tensor) -> tuple[Tensor, Tensor]:
    # Logits at position t predict the token at t + 1.
    return logits[:, :-1, :], target_mask[:, 1:].to(logits.dtype)


def _per_example_mean(values: Tensor, mask: Tensor) -> Tensor:
    return (values * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)


def prediction_entropy(logits: Tensor, target_mask: Tensor) -> Tensor:
    """Mean entropy (nats) of the predictions of the marked tokens, per example.

    Args:
        logits: ``batch x seq x vocab``.
        target_mask: ``batch x seq``, 1 where the token's prediction counts.

    Returns:
        Shape ``batch``.
    """
    logits, mask = _shifted(logits, target_mask)
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    entropy = -(log_probs.exp() * log_probs).sum(dim=-1)  # batch x (seq - 1)
    return _per_example_mean(entropy, mask)


def language_modelling_loss(logits: Tensor, input_ids: Tensor, target_mask: Tensor) -> Tensor:
    """Mean negative log-likelihood (nats per token) of the marked tokens, per example.

    Args:
        logits: ``batch x seq x vocab``.
        input_ids: ``batch x seq``.
        target_mask: ``batch x seq``, 1 on the tokens to predict.

    Returns:
        Shape ``batch``.
    """
    logits, mask = _shifted(logits, target_mask)
    targets = input_ids[:, 1:]
    nll = torch.nn.functional.cross_entropy(
        logits.float().transpose(1, 2), targets, reduction="none"
    )  # batch x (seq - 1)
    return _per_example_mean(nll, mask)


def scalarize(
    losses: Tensor,
    preference: Tensor,
    method: ScalarizationName,
    ideal: Tensor | None = None,
    mu: float = 0.1,
) -> Tensor:
    """One loss from K task losses, weighted by a preference.

    Args:
        losses: Shape ``K``.
        preference: Shape ``K``, on the simplex.
        method: ``linear`` (``sum_k p_k l_k``), ``tchebycheff``
            (``max_k p_k (l_k - z_k)``) or ``smooth_tchebycheff``
            (``mu log sum_k exp(p_k (l_k - z_k) / mu)``, which tends to
            Tchebycheff as ``mu -> 0`` and, unlike it, gives every task a
            gradient at every step).
        ideal: The ideal point ``z`` of shape ``K`` (default zeros).
        mu: Smoothing of ``smooth_tchebycheff``.

    Returns:
        A scalar tensor.
    """
    if method == "linear":
        return (preference * losses).sum()
    gaps = preference * (losses - (ideal if ideal is not None else torch.zeros_like(losses)))
    if method == "tchebycheff":
        return gaps.max()
    if method == "smooth_tchebycheff":
        return mu * torch.logsumexp(gaps / mu, dim=0)
    raise ValueError(f"unknown scalarization {method!r}")
