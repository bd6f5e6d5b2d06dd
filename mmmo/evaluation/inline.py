"""The inline executor: one worker, in the campaign's own process (the default).

A submitted request is evaluated when the campaign waits for it, so merging
and scoring happen in the campaign's thread, one trial at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from mmmo.evaluation.evaluator import TrialEvaluator
from mmmo.evaluation.messages import TrialOutcome, TrialRequest

__all__ = ["InlineExecutor"]


class InlineExecutor:
    """Evaluate in this process with the evaluator ``local_evaluator(fresh)`` gives.

    Its worker is named ``inline/N``; ``N`` counts restarts (a new evaluator,
    after one ran out of memory).
    """

    workers = 1
    lookahead = 0  # the proposal would compete with the evaluation for this process

    def __init__(self, local_evaluator: Callable[[bool], TrialEvaluator]) -> None:
        self._local_evaluator = local_evaluator
        self._evaluator: TrialEvaluator | None = None
        self._request: TrialRequest | None = None
        self._generation = 0
        self._restart = False

    @property
    def worker(self) -> str:
        return f"inline/{self._generation}"

    def start(self) -> tuple[str, ...]:
        self._evaluator = self._local_evaluator(False)
        return self._evaluator.directions

    def free(self) -> int:
        return 0 if self._request is not None else 1

    def submit(self, request: TrialRequest) -> str:
        if self._request is not None:
            raise RuntimeError("the inline worker is busy")  # a scheduling bug, not a user mistake
        if self._restart or self._evaluator is None:
            self._evaluator, self._restart = self._local_evaluator(self._restart), False
        self._request = request
        return self.worker

    def wait(self, timeout: float | None = None) -> list[TrialOutcome]:
        if self._request is None or self._evaluator is None:
            return []
        request, self._request = self._request, None
        outcome = self._evaluator.evaluate(request)
        outcome = replace(outcome, worker=self.worker)
        if outcome.out_of_memory:
            # The live model may be half written: the next trial gets a new evaluator.
            self._evaluator, self._restart = None, True
            self._generation += 1
        return [outcome]

    def close(self) -> None:
        self._evaluator = None
