"""Failures are data: turning exceptions, NaN and out-of-memory into Measurements.

A campaign scores many objectives on many candidate merges; one that raises
must not stop the others or the campaign. Everything here returns a
:class:`~mmmo.objectives.base.Measurement` and never raises (short of
``KeyboardInterrupt``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from mmmo.objectives.base import Measurement, Objective


def failure_text(exc: BaseException) -> str:
    """A one-line reason: ``out of memory: ...`` for OOM, else ``Type: message``."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, torch.OutOfMemoryError) or "out of memory" in message.lower():
        return f"out of memory: {message}" if message else "out of memory"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _free_accelerator_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def checked(measurement: Any, seconds: float) -> Measurement:
    """``measurement`` as a valid Measurement, or a failure saying why it is not."""
    if not isinstance(measurement, Measurement):
        return Measurement.failure(
            f"objective returned {type(measurement).__name__}, not a Measurement", seconds
        )
    if measurement.error is not None:
        return measurement
    if measurement.value is None:
        return Measurement.failure("objective returned no value", seconds)
    if not math.isfinite(measurement.value):
        reason = "NaN" if math.isnan(measurement.value) else f"non-finite value {measurement.value}"
        return Measurement.failure(reason, seconds)
    return measurement


def measure(score: Callable[[], tuple[float, float | None, int]]) -> Measurement:
    """Run ``score() -> (value, stderr, n)``, timed, with every failure caught."""
    start = time.perf_counter()
    try:
        value, stderr, n = score()
    except Exception as exc:  # noqa: BLE001 - every failure becomes data
        _free_accelerator_memory()
        return Measurement.failure(failure_text(exc), time.perf_counter() - start)
    seconds = time.perf_counter() - start
    result = Measurement(value=float(value), stderr=stderr, n=n, seconds=seconds)
    return checked(result, seconds)


def safe_evaluate(objective: Objective, model: Any, tokenizer: Any) -> Measurement:
    """``objective.evaluate(model, tokenizer)`` that never raises."""
    start = time.perf_counter()
    try:
        result = objective.evaluate(model, tokenizer)
    except Exception as exc:  # noqa: BLE001 - every failure becomes data
        _free_accelerator_memory()
        return Measurement.failure(failure_text(exc), time.perf_counter() - start)
    return checked(result, time.perf_counter() - start)


def evaluate_objectives(
    objectives: Sequence[Objective], model: Any, tokenizer: Any
) -> dict[str, Measurement]:
    """Every objective on one live model, by name; failures are Measurements.

    The model is put in eval mode first (dropout off), so every trial is scored
    the same way.
    """
    if hasattr(model, "eval"):
        model.eval()
    return {objective.name: safe_evaluate(objective, model, tokenizer) for objective in objectives}
