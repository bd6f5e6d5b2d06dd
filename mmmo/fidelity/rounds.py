"""The campaign's side of a multi-fidelity round: history in, trials to add out.

Reads the stored trials into the tensors
:class:`~mmmo.search.proposers.multi_fidelity.MultiFidelityProposer` takes,
and turns its decisions into new ``pending`` trials:

- a promotion is a new trial with the same point and plan (the same seed, so
  it merges to the same bits), the next fidelity, ``promoted_from`` naming
  its parent in ``params``, and proposer ``promotion``; its parent stays as
  it was, a measurement at its own fidelity;
- a new point is screened at the schedule's first fidelity.

A trial is promotable once it is complete, below full fidelity and no other
trial was promoted from it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from mmmo.config import CampaignConfig
from mmmo.results import objective_matrix, objective_noise
from mmmo.search.proposers.multi_fidelity import FidelityProposal, MultiFidelityProposer
from mmmo.search.space import SearchSpace
from mmmo.store import NewTrial
from mmmo.trial import TrialRecord, searched_seed

__all__ = [
    "PROMOTION",
    "FidelityHistory",
    "FidelityRounds",
    "fidelity_history",
    "fidelity_trials",
    "parent_of",
    "promotion_prior",
]

logger = logging.getLogger(__name__)

#: The proposer name of a promotion trial.
PROMOTION = "promotion"


@dataclass(frozen=True)
class FidelityHistory:
    """The stored trials as the multi-fidelity proposer sees them.

    Attributes:
        records: The finished trials that are points of the space, row by row.
        X / fidelity / Y / Yvar: ``N x d``, ``N``, ``N x m`` (maximised), ``N x m``.
        pending: ``p x d`` points of the trials in flight.
        promotable: ``N`` booleans.
        superseded: ``N`` booleans: trials whose promotion is complete (its
            examples include theirs, so the model leaves them out).
        candidates: Searched trials that are not promotions (new points screened so far).
    """

    records: tuple[TrialRecord, ...]
    X: Tensor
    fidelity: Tensor
    Y: Tensor
    Yvar: Tensor
    pending: Tensor
    promotable: Tensor
    superseded: Tensor
    candidates: int


def parent_of(record: TrialRecord) -> int | None:
    """The trial a promotion was promoted from; None for any other trial."""
    parent = (record.params or {}).get("promoted_from")
    return None if parent is None else int(parent)


def fidelity_history(
    records: Sequence[TrialRecord], dim: int, objectives: Sequence[str], directions: Sequence[str]
) -> FidelityHistory:
    """The proposer's inputs from every stored trial."""
    known = [r for r in records if r.x is not None and r.finished]
    promoted = {parent_of(r) for r in records} - {None}
    completed = {parent_of(r) for r in records if r.status == "complete"} - {None}
    X = torch.tensor([r.x for r in known], dtype=torch.float64).reshape(len(known), dim)
    fidelity = torch.tensor([1.0 if r.fidelity is None else r.fidelity for r in known], dtype=torch.float64)
    active = [r for r in records if r.x is not None and r.status in ("pending", "running")]
    promotable = torch.tensor(
        [r.status == "complete" and r.is_searched and r.fidelity is not None and r.fidelity < 1.0
         and r.trial_id not in promoted for r in known],
        dtype=torch.bool,
    )
    return FidelityHistory(
        records=tuple(known),
        X=X,
        fidelity=fidelity,
        Y=objective_matrix(known, objectives, directions),
        Yvar=objective_noise(known, objectives),
        pending=torch.tensor([r.x for r in active], dtype=torch.float64).reshape(len(active), dim),
        promotable=promotable,
        superseded=torch.tensor([r.trial_id in completed for r in known], dtype=torch.bool),
        candidates=sum(r.is_searched and parent_of(r) is None for r in records),
    )


def fidelity_trials(
    proposal: FidelityProposal,
    history: FidelityHistory,
    space: SearchSpace,
    next_fidelity: Callable[[float], float | None],
    screening: float,
    proposer: str,
    seeds: Sequence[int],
    seconds: float,
) -> list[NewTrial]:
    """New ``pending`` trials: the promotions first, then the new points (seeded by ``seeds`` in turn)."""
    trials = []
    for row in proposal.promote:
        parent = history.records[row]
        trials.append(NewTrial(
            proposer=PROMOTION, seed=parent.seed, x=list(parent.x), plan=dict(parent.plan or {}),
            params={"promoted_from": parent.trial_id}, seconds_propose=seconds,
            fidelity=next_fidelity(parent.fidelity), origin="searched",
        ))
    for x, seed in zip(proposal.new, seeds):
        plan = space.decode(x, seed=seed)
        trials.append(NewTrial(proposer=proposer, seed=seed, x=x.tolist(), plan=plan.to_dict(),
                               seconds_propose=seconds, fidelity=screening, origin="searched"))
    return trials


def promotion_prior(record: TrialRecord, records: Sequence[TrialRecord]) -> dict[str, tuple[float, ...]] | None:
    """The per-example scores a promotion's parent has, by objective (None for any other trial)."""
    parent_id = parent_of(record)
    if parent_id is None:
        return None
    parent = next((r for r in records if r.trial_id == parent_id), None)
    if parent is None:
        return None
    return {name: m.scores for name, m in parent.measurements.items() if m.scores is not None}


class FidelityRounds:
    """The multi-fidelity proposals of one campaign run (it holds the proposer and its GP cache)."""

    def __init__(self, config: CampaignConfig, space: SearchSpace) -> None:
        fidelity = config.fidelity
        self.config = config
        self.space = space
        self.proposer = MultiFidelityProposer(
            fidelity.schedule, seed=config.seed, promote=fidelity.promote, beta=fidelity.beta,
            eta=fidelity.eta, surrogate=fidelity.surrogate, acquisition=fidelity.acquisition,
        )

    def propose(
        self, history: FidelityHistory, n: int, ref_point: Tensor | None, model_based: bool, first_index: int
    ) -> list[NewTrial]:
        """Promotions and new screening points for ``n`` slots (runs in the campaign's proposal thread).

        A model that cannot be fitted gives a batch from the Sobol design (with
        halving promotions), as a failing proposer does in a single-fidelity run.
        """
        start = time.perf_counter()
        args = (history.X, history.fidelity, history.Y, history.Yvar, history.pending, history.promotable, n, ref_point)
        try:
            proposal = self.proposer.propose(*args, model_based=model_based, superseded=history.superseded,
                                             screened=history.candidates)
        except Exception as exc:  # noqa: BLE001 - a GP that cannot be fitted must not end a long campaign
            logger.warning("multi-fidelity proposal failed (%s: %s); this batch is Sobol points",
                           type(exc).__name__, exc)
            proposal = self.proposer.propose(*args, model_based=False, screened=history.candidates)
        seconds = (time.perf_counter() - start) / n
        name = self.config.proposer if proposal.model_based else "sobol"
        seeds = [searched_seed(self.config.seed, first_index + i) for i in range(n)]
        return fidelity_trials(proposal, history, self.space, self.proposer.next_fidelity,
                               self.proposer.schedule[0], name, seeds, seconds)
