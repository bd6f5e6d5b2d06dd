"""Executors run trial requests on workers and hand back their outcomes.

The campaign drives an executor through five calls:

- :meth:`Executor.start` -> the objectives' directions: starts or joins the
  workers (each builds its :class:`~mmmo.evaluation.TrialEvaluator`); any
  problem (an unreachable cluster, a missing extra, a model a worker cannot
  read) is raised here, before a trial starts.
- :meth:`Executor.free` -> how many workers wait for a trial
  (:attr:`Executor.lookahead`: how many points to keep proposed ahead).
- :meth:`Executor.submit` a request to a free worker -> that worker's name.
- :meth:`Executor.wait` -> outcomes that came back (at least one unless the
  timeout passed first); a worker that died gives a ``lost`` outcome and is
  restarted; one that ran out of memory is restarted after its outcome.
- :meth:`Executor.close`.

Executors never touch the store: the campaign process is its only writer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from mmmo.evaluation.messages import TrialOutcome, TrialRequest

if TYPE_CHECKING:
    from mmmo.config import CampaignConfig
    from mmmo.evaluation.evaluator import TrialEvaluator

__all__ = ["Executor", "make_executor"]


class Executor(Protocol):
    workers: int
    #: Trials to keep proposed ahead while every worker is busy: 0 where
    #: evaluation runs in the campaign's own thread, 1 where it runs elsewhere.
    lookahead: int

    def start(self) -> tuple[str, ...]: ...

    def free(self) -> int: ...

    def submit(self, request: TrialRequest) -> str: ...

    def wait(self, timeout: float | None = None) -> list[TrialOutcome]: ...

    def close(self) -> None: ...


def make_executor(
    config: CampaignConfig, local_evaluator: Callable[[bool], TrialEvaluator], data_seed: int = 0
) -> Executor:
    """The executor ``config.executor`` names.

    Args:
        config: The campaign config.
        local_evaluator: ``(fresh) -> TrialEvaluator`` in this process, for the
            inline executor (``fresh`` builds a new one, after running out of memory).
        data_seed: The seed the objectives draw their data subsets with (Ray workers build their own).
    """
    if config.executor.kind == "ray":
        from mmmo.evaluation.ray_executor import RayExecutor

        return RayExecutor(config, worker_args=(data_seed,))
    from mmmo.evaluation.inline import InlineExecutor

    return InlineExecutor(local_evaluator)
