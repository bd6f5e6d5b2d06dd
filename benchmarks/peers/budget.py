"""The budget every method runs under: distinct points, each charged once.

A method calls the :class:`EvaluationBudget` like a black-box function of a
unit-cube point. The first call at a point (rounded as the shared cache rounds
it) is charged one evaluation; a method that comes back to a point it already
paid for gets the same scores for free. Once ``budget`` points are charged the
next new point raises :class:`BudgetExhausted`, which ends the method's run.

:class:`FreeTrials` are what a campaign knows before its search: the base,
each source and the standard recipes, scored once. The ones that are points
of the space are known to the budget from the start, so a method that
evaluates one of them pays nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["BudgetExhausted", "EvaluationBudget", "FreeTrials", "Trace", "finite_or_worst"]


class BudgetExhausted(Exception):
    """The method asked for one evaluation more than its budget."""


@dataclass
class Trace:
    """What one method's run evaluated, in the order it was charged.

    Attributes:
        X: ``n x d`` unit-cube points.
        Y: ``n x m`` scores (larger is better; ``nan`` where an objective failed).
        seconds_eval: ``n`` merge + evaluation seconds of each point when it was first computed.
        seconds_wall_eval: Wall seconds this run actually spent in the evaluation
            function (less than ``sum(seconds_eval)`` where another method had
            already computed a point).
    """

    X: list[list[float]] = field(default_factory=list)
    Y: list[list[float]] = field(default_factory=list)
    seconds_eval: list[float] = field(default_factory=list)
    seconds_wall_eval: float = 0.0


@dataclass(frozen=True)
class FreeTrials:
    """The reference trials a campaign scores before its search, charged to no method.

    Attributes:
        labels: ``base``, each source's name, ``recipe:...`` (:func:`mmmo.references.reference_trials`).
        X: Each trial's unit-cube point (``d``), ``None`` where it is not a point of the space.
        Y: Each trial's ``m`` scores (larger is better; ``nan`` where an objective failed).
    """

    labels: tuple[str, ...]
    X: tuple[tuple[float, ...] | None, ...]
    Y: tuple[tuple[float, ...], ...]

    def in_space(self, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """The trials that are points of the space: ``k x dim`` points and their ``k x m`` scores."""
        rows = [i for i, x in enumerate(self.X) if x is not None]
        X = np.asarray([self.X[i] for i in rows], dtype=float).reshape(len(rows), dim)
        m = len(self.Y[0]) if self.Y else 0  # not -1: no trial in the space leaves nothing to infer it from
        Y = np.asarray([self.Y[i] for i in rows], dtype=float).reshape(len(rows), m)
        return X, Y

    @property
    def scores(self) -> np.ndarray:
        """Every trial's scores (``k x m``), in or out of the space: part of every method's front."""
        return np.asarray(self.Y, dtype=float)


class EvaluationBudget:
    """``budget`` charged evaluations of ``evaluate`` (a point ``d`` -> an :class:`Evaluation`).

    Calls that only repeat charged points are capped too (``max_repeats`` times
    the budget), so a method stuck on a few points still ends.
    """

    def __init__(self, evaluate: Callable, key: Callable[[Sequence[float]], str], budget: int,
                 max_repeats: int = 20, free: FreeTrials | None = None) -> None:
        self.evaluate = evaluate
        self.key = key
        self.budget = budget
        self.free = free
        self.trace = Trace()
        self._seen: dict[str, np.ndarray] = {}
        for x, y in zip(free.X if free is not None else (), free.Y if free is not None else ()):
            if x is not None:
                self._seen[key(np.clip(np.asarray(x, dtype=float), 0.0, 1.0))] = np.asarray(y, dtype=float)
        self._calls = 0
        self._max_calls = max_repeats * budget

    @property
    def used(self) -> int:
        return len(self.trace.X)

    @property
    def remaining(self) -> int:
        return self.budget - self.used

    def __call__(self, x: Sequence[float]) -> np.ndarray:
        """Scores (``m``, larger is better) of the unit-cube point ``x`` (``d``)."""
        self._calls += 1
        if self._calls > self._max_calls:
            raise BudgetExhausted(f"{self._calls - 1} calls without spending the budget")
        x = np.clip(np.asarray(x, dtype=float).reshape(-1), 0.0, 1.0)
        key = self.key(x)
        if key in self._seen:
            return self._seen[key].copy()
        if self.remaining <= 0:
            raise BudgetExhausted(f"budget of {self.budget} evaluations spent")
        start = time.perf_counter()
        evaluation = self.evaluate(x)
        self.trace.seconds_wall_eval += time.perf_counter() - start
        y = np.asarray(evaluation.values, dtype=float)
        self._seen[key] = y
        self.trace.X.append(x.tolist())
        self.trace.Y.append(y.tolist())
        self.trace.seconds_eval.append(evaluation.seconds)
        return y.copy()


def finite_or_worst(y: np.ndarray, worst: float = 0.0) -> np.ndarray:
    """``y`` with failed (``nan``) scores replaced by ``worst``, for methods that cannot take ``nan``."""
    return np.where(np.isfinite(y), y, worst)
