"""Multi-fidelity proposals: screen new points cheaply, promote the contenders.

The fidelity of a trial is the fraction of each objective's examples it
scored. Every round decides, for ``n`` free slots, which screened trials to
promote to the next fidelity of the schedule and which new points to screen
at the first one.

``posterior`` (the default): one GP per objective, with each score's
observation noise, so a score from few examples weighs less. The examples
of a fidelity are a uniform random prefix of all of them, so a low-fidelity
score is an unbiased, noisier estimate of the full one: with ``surrogate:
noise`` (the default) the GP is over ``x`` alone and the fidelity acts only
through the noise; with ``surrogate: input`` it is over ``[x, fidelity]``, as
in multi-fidelity BO, and predicts at fidelity 1 (BoTorch's
``FixedFeatureAcquisitionFunction``). A promoted trial's screen leaves the
model: its examples are among its promotion's. A trial below full fidelity
is promoted when its optimistic full-fidelity outcome (posterior mean plus
``beta`` standard deviations) would raise the hypervolume of the
full-fidelity front, and is among the largest such raises of its fidelity's
quota (at most ``1/eta`` of the trials finished at a fidelity are promoted,
as in successive halving); the largest raise per example a promotion costs
goes first. The other slots get new points from qLogNEHVI on the same GP, with
every trial in flight and every promotion of the round pending, screened at
the first fidelity.

``acquisition: momf`` or ``hvkg`` (with ``surrogate: input``) replaces both
rules above by one cost-aware choice per slot between screening a new point
and promoting a screen, each valued by BoTorch's MOMF or multi-fidelity
hypervolume knowledge gradient per example it scores
(:mod:`~mmmo.search.proposers.cost_aware`).

``halving``: asynchronous successive halving over the Sobol design (Li et al.);
a trial is promoted once it is among the top ``1/eta`` of the trials finished
at its fidelity, ranked by non-dominated sorting (ties by the sum of scores
normalised over the rung). The baseline the benchmark compares with; the
``posterior`` rule also promotes this way during the initial design, before
a GP is fitted, skipping trials a full-fidelity trial already matches or beats.

References:
    S. Daulton, M. Balandat, E. Bakshy. Parallel Bayesian Optimization of
    Multiple Noisy Objectives with Expected Hypervolume Improvement. NeurIPS 2021.
    L. Li, K. Jamieson, A. Rostamizadeh, E. Gonina, J. Ben-tzur, M. Hardt,
    B. Recht, A. Talwalkar. A System for Massively Parallel Hyperparameter
    Tuning. MLSys 2020.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from botorch.acquisition.fixed_feature import FixedFeatureAcquisitionFunction
from botorch.acquisition.multi_objective.utils import prune_inferior_points_multi_objective
from botorch.sampling import SobolQMCNormalSampler
from torch import Tensor

from mmmo.search.pareto import hypervolume, infer_ref_point, pareto_mask
from mmmo.search.proposers.cost_aware import ACQUISITIONS, CostAwareRound
from mmmo.search.proposers.gp import fit_gp, surrogate
from mmmo.search.proposers.qlognehvi import NativeQLogNEHVI, QLogNEHVIProposer
from mmmo.search.proposers.sobol import SobolProposer

__all__ = ["FidelityProposal", "MultiFidelityProposer"]


@dataclass(frozen=True)
class FidelityProposal:
    """One round's decisions.

    Attributes:
        promote: Row indices (into the ``X`` given) of trials to score at their next fidelity.
        new: ``k x d`` new points, to be screened at the schedule's first fidelity.
        model_based: Whether the new points came from the GP (else from the Sobol design).
    """

    promote: tuple[int, ...]
    new: Tensor
    model_based: bool


class MultiFidelityProposer:
    """Decide promotions and new screening points (see the module docs).

    Args:
        schedule: Increasing fidelities in (0, 1], the last 1.
        seed: Seeds the Sobol design, the QMC samples and the optimiser's starts.
        promote: ``posterior`` or ``halving``.
        surrogate: ``noise`` (GP over ``x``; the fidelity sets the noise) or
            ``input`` (GP over ``[x, fidelity]``).
        beta: Posterior standard deviations of optimism in a promotion decision.
        eta: Halving's reduction factor.
        acquisition: ``nehvi`` (the optimistic promotion rule and qLogNEHVI screens),
            ``momf`` or ``hvkg`` (one cost-aware choice per slot; needs ``surrogate: input``).
        options: Settings of the qLogNEHVI proposal (:class:`QLogNEHVIProposer`).
    """

    def __init__(
        self,
        schedule: Sequence[float],
        seed: int = 0,
        promote: str = "posterior",
        beta: float = 1.0,
        eta: int = 2,
        surrogate: str = "noise",
        acquisition: str = "nehvi",
        **options: Any,
    ) -> None:
        if promote not in ("posterior", "halving"):
            raise ValueError(f"promote must be 'posterior' or 'halving', got {promote!r}")
        if surrogate not in ("noise", "input"):
            raise ValueError(f"surrogate must be 'noise' or 'input', got {surrogate!r}")
        if acquisition not in ("nehvi", *ACQUISITIONS):
            raise ValueError(f"acquisition must be one of {('nehvi', *ACQUISITIONS)}, got {acquisition!r}")
        if acquisition != "nehvi" and surrogate != "input":
            raise ValueError(f"acquisition {acquisition!r} values fidelities on a GP over point and fidelity; "
                             "it needs surrogate 'input'")
        self.surrogate = surrogate
        self.acquisition = acquisition
        self.schedule = tuple(float(f) for f in schedule)
        self.seed = seed
        self.promote_rule = promote
        self.beta = beta
        self.eta = eta
        self._qlognehvi = QLogNEHVIProposer(seed=seed, **options)
        self._cost_aware = (
            CostAwareRound(acquisition, self.schedule, self._qlognehvi) if acquisition in ACQUISITIONS else None
        )

    def next_fidelity(self, fidelity: float) -> float | None:
        """The schedule's fidelity after ``fidelity``; None at full fidelity."""
        higher = [f for f in self.schedule if f > fidelity + 1e-12]
        return higher[0] if higher else None

    def propose(
        self,
        X: Tensor,
        fidelity: Tensor,
        Y: Tensor,
        Yvar: Tensor,
        pending: Tensor,
        promotable: Tensor,
        n: int,
        ref_point: Tensor | None = None,
        model_based: bool = True,
        superseded: Tensor | None = None,
        screened: int | None = None,
    ) -> FidelityProposal:
        """Promotions and new points for ``n`` slots.

        Args:
            X: ``N x d`` points evaluated (unit cube).
            fidelity: ``N`` their fidelities.
            Y: ``N x m`` scores, maximised, ``nan`` for failed trials.
            Yvar: ``N x m`` observation variances (``nan`` where unknown).
            pending: ``p x d`` points in flight (their full-fidelity outcome is pending).
            promotable: ``N`` booleans: complete, below full fidelity, not promoted yet.
            n: Slots to fill.
            ref_point: ``m`` hypervolume reference point (maximised).
            model_based: False keeps to the Sobol design for the new points (the initial design).
            superseded: ``N`` booleans: screens whose promotion is complete (left out of the model).
            screened: New points screened so far, in flight included: where the Sobol design goes on.
                By default the rows of ``X`` at the first fidelity and every pending point, which
                miscounts when reference trials or promotions are in flight.
        """
        complete = torch.isfinite(Y).all(dim=-1)
        if self.promote_rule == "halving":
            promote = self._halving(fidelity, Y, complete, promotable)[:n]
            return FidelityProposal(tuple(promote), self._sobol(X, fidelity, pending, n - len(promote), screened), False)
        if not model_based or int(complete.sum()) < 2:
            # No model yet: halving, less the trials the full-fidelity front already beats.
            beaten = _weakly_dominated(Y, Y[complete & (fidelity >= 1.0)])
            promote = [i for i in self._halving(fidelity, Y, complete, promotable) if not beaten[i]][:n]
            return FidelityProposal(tuple(promote), self._sobol(X, fidelity, pending, n - len(promote), screened), False)
        use = complete & ~superseded if superseded is not None else complete
        inputs = X.double() if self.surrogate == "noise" else torch.cat([X, fidelity[:, None]], dim=-1).double()
        with torch.random.fork_rng():
            torch.manual_seed((self.seed * 1_000_003 + X.shape[0] + pending.shape[0]) % 2**63)
            # BoTorch's HVKG takes its GPs as a ModelListGP; the other rules evaluate them batched.
            fit = fit_gp if self.acquisition == "hvkg" else surrogate
            model = fit(
                inputs[use], Y[use].double(), Yvar=Yvar[use].double(),
                cache=self._qlognehvi.hyperparameters, optimizer_options=self._qlognehvi._fit_options(),
            )
            full = complete & (fidelity >= 1.0)
            ref = infer_ref_point(Y[complete]) if ref_point is None else ref_point.to(Y)
            if self._cost_aware is not None:
                choice = self._cost_aware.choose(model, X, fidelity, Y, use, promotable, pending, n, ref,
                                                 self.next_fidelity)
                return FidelityProposal(choice.promote, choice.new, True)
            promote = self._optimistic(model, X, fidelity, Y[full], complete, promotable, ref)[:n]
            new = self._screen(model, X[use], Y[use], pending, X[list(promote)], n - len(promote), ref)
        return FidelityProposal(tuple(promote), new, True)

    def _at_full(self, points: Tensor) -> Tensor:
        """Model inputs of ``points`` (``k x d``) at full fidelity."""
        points = points.double()
        if self.surrogate == "noise":
            return points
        return torch.cat([points, torch.ones(points.shape[0], 1, dtype=torch.float64)], dim=-1)

    # -- promotion rules ---------------------------------------------------

    def _optimistic(
        self, model: Any, X: Tensor, fidelity: Tensor, Y_full: Tensor, complete: Tensor, promotable: Tensor,
        ref: Tensor,
    ) -> list[int]:
        """Promotable rows whose optimistic full-fidelity outcome raises the full-fidelity hypervolume,
        at most ``1/eta`` of each fidelity's finished trials promoted in all, largest raise first."""
        rows = promotable.nonzero().flatten().tolist()
        if not rows:
            return []
        with torch.no_grad():
            posterior = model.posterior(self._at_full(X[rows]))
            optimistic = posterior.mean + self.beta * posterior.variance.clamp_min(0).sqrt()  # r x m
        base = hypervolume(Y_full, ref) if Y_full.shape[0] else 0.0
        gains: dict[float, list[tuple[float, int]]] = {}
        for row, point in zip(rows, optimistic):
            gain = hypervolume(torch.cat([Y_full, point[None]]), ref) - base
            if gain > 0:
                gains.setdefault(float(fidelity[row]), []).append((gain, row))
        chosen = []
        for level, candidates in gains.items():
            # In three or more objectives almost any point is non-dominated, so "could enter the front"
            # alone promotes nearly every screen; the halving quota keeps the saving.
            rung = complete & (fidelity - level).abs().lt(1e-9)
            quota = int(rung.sum()) // self.eta - int((rung & ~promotable).sum())
            # Per unit of cost: a promotion scores (next - current) of every objective's examples.
            cost = self.next_fidelity(level) - level
            chosen += [(gain / cost, row) for gain, row in sorted(candidates, reverse=True)[: max(quota, 0)]]
        return [row for _, row in sorted(chosen, reverse=True)]

    def _halving(self, fidelity: Tensor, Y: Tensor, complete: Tensor, promotable: Tensor) -> list[int]:
        """Asynchronous successive halving: the promotable rows in the top ``1/eta`` of their rung."""
        chosen = []
        for level in self.schedule[:-1]:
            rung = (complete & (fidelity - level).abs().lt(1e-9)).nonzero().flatten()
            top = rung.numel() // self.eta
            if top == 0:
                continue
            ranked = rung[_ranking(Y[rung])]
            chosen += [int(i) for i in ranked[:top] if bool(promotable[i])]
        return chosen

    # -- new points --------------------------------------------------------

    def _sobol(self, X: Tensor, fidelity: Tensor, pending: Tensor, k: int, screened: int | None = None) -> Tensor:
        """``k`` points of the Sobol design, continued past every point screened or in flight."""
        if k <= 0:
            return torch.zeros(0, X.shape[1], dtype=torch.float64)
        if screened is None:
            # One screening row per candidate: promotions do not move the design on.
            screened = int((fidelity - self.schedule[0]).abs().lt(1e-9).sum()) + pending.shape[0]
        return SobolProposer(self.seed).draw(X.shape[1], screened, k)

    def _screen(
        self, model: Any, X_done: Tensor, Y_done: Tensor, pending: Tensor, promoted: Tensor, k: int, ref: Tensor
    ) -> Tensor:
        """``k`` new points by qLogNEHVI at full fidelity, built one at a time (sequential greedy)."""
        d = X_done.shape[1]
        if k <= 0:
            return torch.zeros(0, d, dtype=torch.float64)
        in_flight = torch.cat([pending.double(), promoted.double()])
        if self.surrogate == "noise":
            return self._qlognehvi._candidates(model, X_done.double(), Y_done.double(), in_flight, k, ref)
        max_baseline = self._qlognehvi.max_baseline
        max_frac = 1.0 if max_baseline is None else min(1.0, max_baseline / X_done.shape[0])
        baseline = prune_inferior_points_multi_objective(model, self._at_full(X_done), ref, max_frac=max_frac)
        chosen: list[Tensor] = []
        for _ in range(k):
            # One at a time: BoTorch's sequential loop would mix d-dim candidates with (d+1)-dim pending points.
            waiting = torch.cat([in_flight, *chosen]) if chosen else in_flight
            acquisition = NativeQLogNEHVI(
                model=model,
                ref_point=ref,
                X_baseline=baseline,
                sampler=SobolQMCNormalSampler(torch.Size([self._qlognehvi.mc_samples]), seed=self.seed),
                X_pending=self._at_full(waiting) if waiting.shape[0] else None,
                prune_baseline=False,
                cache_root=True,
            )
            # The fidelity column is fixed at 1: a point is chosen for what it would score in full.
            at_full = FixedFeatureAcquisitionFunction(acquisition, d=d + 1, columns=[d], values=[1.0])
            chosen.append(self._qlognehvi._optimize(at_full, 1, d).detach())
        return torch.cat(chosen).clamp(0.0, 1.0)  # k x d


def _weakly_dominated(Y: Tensor, front: Tensor) -> Tensor:
    """``N`` booleans: whether some row of ``front`` (``k x m``) is at least as good as each row of ``Y`` everywhere."""
    if front.shape[0] == 0:
        return torch.zeros(Y.shape[0], dtype=torch.bool)
    return (front[None, :, :] >= Y[:, None, :]).all(dim=-1).any(dim=-1)


def _ranking(Y: Tensor) -> Tensor:
    """Row order by non-dominated sorting, ties by the sum of scores normalised to [0, 1]."""
    low, high = Y.min(dim=0).values, Y.max(dim=0).values
    scaled = ((Y - low) / torch.where(high > low, high - low, torch.ones_like(high))).sum(dim=-1)
    level = torch.zeros(Y.shape[0], dtype=torch.long)
    remaining = torch.arange(Y.shape[0])
    depth = 0
    while remaining.numel():
        front = pareto_mask(Y[remaining])
        level[remaining[front]] = depth
        remaining = remaining[~front]
        depth += 1
    keys = sorted(range(Y.shape[0]), key=lambda i: (int(level[i]), -float(scaled[i])))
    return torch.tensor(keys, dtype=torch.long)
