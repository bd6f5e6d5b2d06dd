"""Observation noise of a measurement: what the GP is told about each score's uncertainty.

Every objective over examples reports the standard error of its mean
(:func:`~mmmo.objectives.stats.mean_and_stderr`; lm-eval its own
``*_stderr``). Its square is the observation noise of that score
(``train_Yvar``), so a score from 25 examples weighs less than one from 100,
and screening trials at a low fidelity do not pull the model as hard as full
evaluations. Objectives without a standard error (parameter distances, a
user's callable) give ``nan``: the GP of that objective then infers its noise,
as it did before any noise was known.

A sample whose examples all scored the same (an accuracy of 0 or 1 over
``n`` examples) has a sample standard error of 0, which would tell the GP the
score is exact. For such a 0/1 mean the add-two-successes-and-failures
estimate (Agresti and Coull) gives a variance of ``p(1 - p) / (n + 4)`` with
``p = (k + 2) / (n + 4)``; any other score gets :data:`MIN_VARIANCE`.

References:
    A. Agresti, B. A. Coull. Approximate is Better than "Exact" for Interval
    Estimation of Binomial Proportions. The American Statistician, 1998.
"""

from __future__ import annotations

import math

from mmmo.objectives.base import Measurement

__all__ = ["MIN_VARIANCE", "observation_variance"]

#: Smallest observation variance given to a GP: BoTorch's own "noise-free" level.
MIN_VARIANCE = 1e-6


def observation_variance(measurement: Measurement | None) -> float:
    """The variance of a measured score (its standard error squared), ``nan`` when unknown."""
    if measurement is None or not measurement.ok or measurement.stderr is None:
        return math.nan
    stderr = float(measurement.stderr)
    if not math.isfinite(stderr):
        return math.nan
    if stderr > 0:
        return max(stderr * stderr, MIN_VARIANCE)
    value = float(measurement.value)
    if measurement.n > 0 and value in (0.0, 1.0):
        p = (value * measurement.n + 2.0) / (measurement.n + 4.0)
        return max(p * (1.0 - p) / (measurement.n + 4.0), MIN_VARIANCE)
    return MIN_VARIANCE
