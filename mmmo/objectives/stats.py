"""Mean and standard error of per-example scores."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def mean_and_stderr(scores: Tensor) -> tuple[float, float | None, int]:
    """``(mean, standard error of the mean, n)`` of a ``n`` vector of per-example scores.

    The standard error uses the sample standard deviation (``n - 1``); it is
    ``None`` for a single example, where it is undefined.
    """
    scores = scores.detach().to(torch.float64).flatten().cpu()
    n = scores.numel()
    mean = scores.mean().item()
    if n < 2:
        return mean, None, n
    stderr = scores.std(unbiased=True).item() / math.sqrt(n)
    return mean, stderr, n
