"""Evaluation: merge and score trials, in this process or on workers elsewhere.

- :class:`TrialRequest` / :class:`TrialOutcome`: what a worker receives (a
  plan, never weights) and returns, as plain JSON-able values.
- :class:`TrialEvaluator`: one process's pool, live model and objectives,
  built once; ``evaluate(request) -> outcome``.
- Executors (:func:`make_executor`): ``inline`` (one worker, this process)
  and ``ray`` (one Ray actor per worker; imported only when used).
"""

from mmmo.evaluation.evaluator import TrialEvaluator
from mmmo.evaluation.executor import Executor, make_executor
from mmmo.evaluation.messages import TrialOutcome, TrialRequest

__all__ = ["Executor", "TrialEvaluator", "TrialOutcome", "TrialRequest", "make_executor"]
