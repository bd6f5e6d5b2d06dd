"""Cost-aware multi-fidelity rounds: BoTorch's MOMF or MF-HVKG values each action per example it costs.

A round fills its slots one at a time with one of two kinds of action:

- screen a new point at the schedule's first fidelity ``s_1`` (it scores a
  fraction ``s_1`` of every objective's examples);
- promote a screened trial from its fidelity ``s`` to the next one ``s'``
  (the examples are nested prefixes, so it scores only ``s' - s``).

Each action is valued by an acquisition function of a GP over ``[x, fidelity]``
without BoTorch's cost weighting, and that value is divided by the action's
cost here: BoTorch's cost models see only the input ``[x, s']``, not the ``s``
a promotion starts from. The best value per example wins the slot, and the
chosen action is pending for the next slot.

``momf``: MOMF (Irshad et al.), qEHVI in the objectives plus the fidelity
itself as one more objective (a "trust" objective: a score from more examples
is worth more), against a front of every trial at its own fidelity.

``hvkg``: ``qMultiFidelityHypervolumeKnowledgeGradient`` (Daulton et al.),
the expected raise of the hypervolume of the best ``num_pareto`` points under
the posterior mean at full fidelity, after observing the action, over
``num_fantasies`` fantasies. A new screen is optimised one-shot over the point
and the fantasies' solutions; a promotion's point is fixed, so only its
fantasies' solutions are optimised, starting from the new screen's.

References:
    F. Irshad, S. Karsch, A. Döpp. Expected hypervolume improvement for
    simultaneous multi-objective and multi-fidelity optimization. arXiv:2112.13901, 2021.
    S. Daulton, M. Balandat, E. Bakshy. Hypervolume Knowledge Gradient for
    Multi-Objective Bayesian Optimization with Partial Information. ICML 2023.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.fixed_feature import FixedFeatureAcquisitionFunction
from botorch.acquisition.multi_objective.hypervolume_knowledge_gradient import (
    _get_hv_value_function,
    qMultiFidelityHypervolumeKnowledgeGradient,
)
from botorch.acquisition.multi_objective.multi_fidelity import MOMF
from botorch.acquisition.multi_objective.objective import MCMultiOutputObjective
from botorch.acquisition.utils import project_to_target_fidelity
from botorch.exceptions.warnings import NumericsWarning
from botorch.generation.gen import gen_candidates_torch
from botorch.optim import optimize_acqf
from botorch.sampling import SobolQMCNormalSampler
from botorch.utils.multi_objective.box_decompositions.non_dominated import FastNondominatedPartitioning
from torch import Tensor

from mmmo.search.proposers.qlognehvi import QLogNEHVIProposer

__all__ = ["ACQUISITIONS", "CostAwareChoice", "CostAwareRound"]

#: The cost-aware acquisition functions a multi-fidelity campaign can use.
ACQUISITIONS = ("momf", "hvkg")


@dataclass(frozen=True)
class CostAwareChoice:
    """One round's actions.

    Attributes:
        promote: Row indices of the trials to promote, in the order chosen.
        new: ``k x d`` new points to screen at the schedule's first fidelity.
        values: The value per unit of cost of each action taken, in the order taken.
    """

    promote: tuple[int, ...]
    new: Tensor
    values: tuple[float, ...]


class _WithFidelity(MCMultiOutputObjective):
    """The objectives' samples with the input's fidelity (its last column) appended: MOMF's trust objective."""

    def forward(self, samples: Tensor, X: Tensor | None = None) -> Tensor:
        fidelity = X[..., -1:].expand(*samples.shape[:-1], 1)
        return torch.cat([samples, fidelity], dim=-1)


class _FantasySolutions(AcquisitionFunction):
    """HVKG at fixed actions, as a function of the fantasies' solutions only (one action per t-batch)."""

    def __init__(self, hvkg: AcquisitionFunction, actions: Tensor) -> None:
        super().__init__(model=hvkg.model)
        self.hvkg = hvkg
        self.actions = actions  # b x 1 x D

    def forward(self, X: Tensor) -> Tensor:  # b x (num_fantasies * num_pareto) x D
        return self.hvkg(torch.cat([self.actions.expand(X.shape[0], 1, -1), X], dim=-2))


class CostAwareRound:
    """Choose screens and promotions by MOMF or MF-HVKG value per example (see the module docs).

    Args:
        acquisition: ``momf`` or ``hvkg``.
        schedule: The fidelities, increasing, the last 1.
        optimizer: Restarts, raw samples, iterations and QMC samples come from its settings.
        num_fantasies / num_pareto: HVKG's fantasies and the size of the set it values.
    """

    def __init__(
        self,
        acquisition: str,
        schedule: tuple[float, ...],
        optimizer: QLogNEHVIProposer,
        num_fantasies: int = 8,
        num_pareto: int = 5,
    ) -> None:
        if acquisition not in ACQUISITIONS:
            raise ValueError(f"acquisition must be one of {ACQUISITIONS}, got {acquisition!r}")
        self.acquisition = acquisition
        self.schedule = schedule
        self.optimizer = optimizer
        self.num_fantasies = num_fantasies
        self.num_pareto = num_pareto

    def choose(
        self,
        model,
        X: Tensor,
        fidelity: Tensor,
        Y: Tensor,
        use: Tensor,
        promotable: Tensor,
        pending: Tensor,
        n: int,
        ref: Tensor,
        next_fidelity: Callable[[float], float | None],
    ) -> CostAwareChoice:
        """``n`` actions, one at a time, each earlier one pending.

        Args:
            model: A GP over ``[x, fidelity]`` (``d + 1`` inputs, the fidelity last).
            X / fidelity / Y: The trials' points, fidelities and scores (maximised).
            use: Rows the model was fitted on (MOMF's front is over them).
            promotable: Rows that may be promoted.
            pending: ``p x d`` points in flight; they count as full-fidelity observations to come.
            ref: The hypervolume reference point of the objectives.
        """
        d = X.shape[1]
        first = self.schedule[0]
        inputs = torch.cat([X, fidelity[:, None]], dim=-1).double()
        rows = promotable.nonzero().flatten().tolist()
        promoted: list[int] = []
        new: list[Tensor] = []
        values: list[float] = []
        # HVKG's baseline depends on the model alone, not on what is pending: one per round.
        current = self._current_value(model, ref.double(), d) if self.acquisition == "hvkg" else None
        for _ in range(n):
            waiting = torch.cat([_at(pending, 1.0), _at(X[promoted], 1.0), *[_at(x, first) for x in new]])
            acquisition = self._acquisition(model, inputs[use], Y[use].double(), ref.double(), waiting, d, current)
            screen = self._best_screen(acquisition, d)
            candidates = [r for r in rows if r not in promoted]
            upper = torch.tensor([next_fidelity(float(fidelity[r])) for r in candidates], dtype=torch.float64)
            # Action 0 screens the best new point; action i > 0 promotes candidates[i - 1]. All are valued
            # the same way, so HVKG's inner optimisation favours none of them.
            promotions = torch.cat([X[candidates].double().reshape(-1, d), upper[:, None]], dim=-1)
            actions = torch.cat([screen.reshape(-1, d + 1)[:1], promotions])
            costs = torch.cat([torch.tensor([first], dtype=torch.float64), upper - fidelity[candidates].double()])
            gains = self._values(acquisition, actions, screen) / costs
            top = int(gains.argmax())
            values.append(float(gains[top]))
            if top == 0:
                new.append(actions[:1, :d])
            else:
                promoted.append(candidates[top - 1])
        new_points = torch.cat(new) if new else torch.zeros(0, d, dtype=torch.float64)
        return CostAwareChoice(tuple(promoted), new_points.clamp(0.0, 1.0), tuple(values))

    # -- the acquisition functions -----------------------------------------

    def _acquisition(
        self, model, inputs: Tensor, Y: Tensor, ref: Tensor, waiting: Tensor, d: int, current: Tensor | None = None
    ):
        sampler = SobolQMCNormalSampler(torch.Size([self.optimizer.mc_samples]), seed=self.optimizer.seed)
        pending = waiting if waiting.shape[0] else None
        if self.acquisition == "momf":
            trust_ref = torch.cat([ref, torch.zeros(1, dtype=ref.dtype)])
            observed = torch.cat([Y, inputs[:, -1:]], dim=-1)
            with warnings.catch_warnings():  # qEHVI's advice to prefer qLogEHVI: MOMF is built on qEHVI
                warnings.simplefilter("ignore", NumericsWarning)
                return MOMF(
                    model=model,
                    ref_point=trust_ref,
                    partitioning=FastNondominatedPartitioning(ref_point=trust_ref, Y=observed),
                    sampler=sampler,
                    objective=_WithFidelity(),
                    X_pending=pending,
                    cost_call=lambda X: torch.ones(*X.shape[:-1], 1, dtype=X.dtype),  # cost is divided out here
                )
        target = {d: 1.0}
        if current is None:
            current = self._current_value(model, ref, d)
        return qMultiFidelityHypervolumeKnowledgeGradient(
            model=model,
            ref_point=ref,
            target_fidelities=target,
            num_fantasies=self.num_fantasies,
            num_pareto=self.num_pareto,
            current_value=current,
            project=lambda X: project_to_target_fidelity(X, target_fidelities=target, d=d + 1),
            X_pending=pending,
        )

    def _current_value(self, model, ref: Tensor, d: int) -> Tensor:
        """Hypervolume of the best ``num_pareto`` points under the posterior mean at full fidelity."""
        value_function = _get_hv_value_function(model=model, ref_point=ref, use_posterior_mean=True)
        at_full = FixedFeatureAcquisitionFunction(value_function, d=d + 1, columns=[d], values=[1.0])
        with torch.random.fork_rng():
            torch.manual_seed(self.optimizer.seed)
            _, value = optimize_acqf(
                at_full, bounds=_unit(d), q=self.num_pareto, num_restarts=1,
                raw_samples=self.optimizer.raw_samples, options={"maxiter": self.optimizer.maxiter},
            )
        return value.detach()

    # -- valuing actions -----------------------------------------------------

    def _best_screen(self, acquisition, d: int) -> Tensor:
        """The new point worth most at the first fidelity (``1 x D``; HVKG's fantasies' solutions follow it)."""
        first = self.schedule[0]
        with torch.random.fork_rng():
            torch.manual_seed(self.optimizer.seed)
            if self.acquisition == "momf":
                at_first = FixedFeatureAcquisitionFunction(acquisition, d=d + 1, columns=[d], values=[first])
                point, _ = optimize_acqf(
                    at_first, bounds=_unit(d), q=1, num_restarts=self.optimizer.num_restarts,
                    raw_samples=self.optimizer.raw_samples, options=self.optimizer._optimizer_options(),
                )
                return _at(point.detach(), first)
            # One-shot: the point and the fantasies' solutions; the fidelity of all of them is fixed at the
            # first (the solutions are projected to full fidelity when valued, so theirs does not matter).
            tree, _ = optimize_acqf(
                acquisition, bounds=_unit(d + 1), q=1, num_restarts=self.optimizer.num_restarts,
                raw_samples=self.optimizer.raw_samples, options={"maxiter": self.optimizer.maxiter},
                fixed_features={d: first}, return_full_tree=True,
            )
        return tree.detach()

    def _values(self, acquisition, actions: Tensor, screen: Tensor) -> Tensor:
        """The value of each action (``k x D``: points at their next fidelity), not yet divided by cost."""
        if self.acquisition == "momf":
            with torch.no_grad():
                return acquisition(actions[:, None, :]).double()
        # The fantasies' solutions that suited the best screen are a start; each action refines its own.
        solutions = screen.reshape(-1, screen.shape[-1])[1:]
        start = solutions.expand(actions.shape[0], *solutions.shape).clone()
        fixed = _FantasySolutions(acquisition, actions[:, None, :])
        # A torch optimiser: it steps every t-batch together, which the action-per-t-batch wrapper needs
        # (BoTorch's batched L-BFGS-B evaluates only the t-batches still running).
        _, values = gen_candidates_torch(
            start, fixed, lower_bounds=0.0, upper_bounds=1.0, options={"maxiter": self.optimizer.maxiter},
        )
        return values.detach().double()


def _unit(d: int) -> Tensor:
    return torch.stack([torch.zeros(d), torch.ones(d)]).double()


def _at(points: Tensor, level: float) -> Tensor:
    """``points`` (``k x d``) with a fidelity column of ``level``."""
    points = points.double().reshape(-1, points.shape[-1])
    return torch.cat([points, torch.full((points.shape[0], 1), level, dtype=torch.float64)], dim=-1)
