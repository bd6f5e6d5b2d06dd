"""Seconds per proposal of a batch (q=4): mmmo's qLogNEHVI proposer vs a plain BoTorch recipe.

For each cell (n observations, d dimensions, 3 objectives) the history is n
scrambled-Sobol points of DTLZ2 (BoTorch's test problem, maximised), and both
proposers are timed on the same history in the same run:

- ``plain``: a ModelListGP of SingleTaskGPs fitted from scratch, qLogNEHVI
  (pruned baseline, 128 QMC samples) and ``optimize_acqf`` over the joint
  q x d batch, 10 restarts, 256 raw samples.
- ``mmmo``: ``make_proposer("qlognehvi")`` with its defaults (the
  baseline capped at the 16 points most often on the front, box
  decompositions in C, a batched multi-output GP, sequential greedy batch;
  QMC samples and iteration caps as ``QLogNEHVIProposer`` documents them) as a
  campaign runs it: one call on the first n - q points (which warms its
  hyperparameter cache), then the timed call on all n; ``mmmo_s`` is the
  median over ``--repeats`` such pairs, each with a fresh proposer (one call of
  a few seconds varies by 20% on a shared 2-core machine). ``mmmo_cold`` is the
  first call's time on n points with an empty cache.

Quality: each proposed batch is scored on DTLZ2, and the hypervolume it adds
to the history's front is reported (``hv_gain``, larger is better). The
reference point is the campaign's rule applied to the history (per objective,
the worst value minus 10% of the range), given to both proposers: DTLZ2's own
reference point lies beyond most random histories, so no batch could add to it.

Usage:
    python benchmarks/proposal_overhead.py [--cells 20x6,100x24] [--threads 2] [--repeats 3]
    # mmmo's proposers alone at per-layer sizes, seconds per proposed point (q=1):
    python benchmarks/proposal_overhead.py --cells 80x60,80x108 --proposers qlognehvi,saas --no-plain --q 1

The last line printed is one JSON object: per cell, the seconds of each
proposer, their ratio (``plain / mmmo``) and the hypervolume gains.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import torch
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import ModelListGP, SingleTaskGP
from botorch.models.transforms import Normalize, Standardize
from botorch.optim import optimize_acqf
from botorch.sampling import SobolQMCNormalSampler
from botorch.test_functions.multi_objective import DTLZ2
from gpytorch.mlls import SumMarginalLogLikelihood
from torch.quasirandom import SobolEngine

from mmmo.search.pareto import hypervolume, infer_ref_point
from mmmo.search.proposers import make_proposer

Q = 4
M = 3


def plain_recipe(X, Y, ref_point, q, seed):
    """The BoTorch tutorial recipe: independent GPs fitted from scratch, joint batch optimisation."""
    torch.manual_seed(seed)
    d = X.shape[-1]
    bounds = torch.stack([torch.zeros(d), torch.ones(d)]).to(X)
    models = [
        SingleTaskGP(X, Y[:, i : i + 1], input_transform=Normalize(d, bounds=bounds), outcome_transform=Standardize(1))
        for i in range(Y.shape[-1])
    ]
    model = ModelListGP(*models)
    fit_gpytorch_mll(SumMarginalLogLikelihood(model.likelihood, model))
    acquisition = qLogNoisyExpectedHypervolumeImprovement(
        model=model,
        ref_point=ref_point,
        X_baseline=X,
        sampler=SobolQMCNormalSampler(torch.Size([128]), seed=seed),
        prune_baseline=True,
        cache_root=True,
    )
    candidates, _ = optimize_acqf(
        acquisition, bounds=bounds, q=q, num_restarts=10, raw_samples=256, options={"batch_limit": 5, "maxiter": 200}
    )
    return candidates.detach()


def history(n, d, seed):
    problem = DTLZ2(dim=d, num_objectives=M, negate=True).to(torch.float64)
    X = SobolEngine(d, scramble=True, seed=seed).draw(n, dtype=torch.float64)
    return problem, X, problem(X)


def run_cell(n, d, seed, repeats, proposer_name="qlognehvi", plain_too=True, q=Q):
    problem, X, Y = history(n, d, seed)
    ref_point = infer_ref_point(Y)
    empty = torch.zeros(0, d, dtype=torch.float64)
    base_hv = hypervolume(Y, ref_point)

    def gain(candidates):
        return hypervolume(torch.cat([Y, problem(candidates)]), ref_point) - base_hv

    plain_seconds, plain = None, None
    if plain_too:
        start = time.perf_counter()
        plain = plain_recipe(X, Y, ref_point, q, seed)
        plain_seconds = time.perf_counter() - start

    cold = make_proposer(proposer_name, seed=seed)
    start = time.perf_counter()
    cold.propose(X, Y, empty, q, ref_point)
    cold_seconds = time.perf_counter() - start

    mmmo_runs = []
    for _ in range(repeats):
        proposer = make_proposer(proposer_name, seed=seed)
        proposer.propose(X[:-q], Y[:-q], empty, q, ref_point)  # the previous round of a campaign
        start = time.perf_counter()
        mmmo = proposer.propose(X, Y, empty, q, ref_point)
        mmmo_runs.append(time.perf_counter() - start)
    mmmo_seconds = statistics.median(mmmo_runs)
    return {
        "n": n,
        "d": d,
        "q": q,
        "proposer": proposer_name,
        "plain_s": None if plain is None else round(plain_seconds, 3),
        "mmmo_s": round(mmmo_seconds, 3),
        "mmmo_s_per_point": round(mmmo_seconds / q, 3),
        "mmmo_runs_s": [round(t, 3) for t in mmmo_runs],
        "mmmo_cold_s": round(cold_seconds, 3),
        "ratio": None if plain is None else round(plain_seconds / mmmo_seconds, 2),
        "hv_gain_plain": None if plain is None else round(gain(plain), 5),
        "hv_gain_mmmo": round(gain(mmmo), 5),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", default="20x6,20x24,100x6,100x24", help="comma-separated NxD cells")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed mmmo proposals per cell, each by a fresh proposer warmed as in a campaign; "
                             "mmmo_s is their median (the plain recipe, minutes per cell, runs once)")
    parser.add_argument("--proposers", default="qlognehvi", help="comma-separated mmmo proposers to time")
    parser.add_argument("--no-plain", action="store_true", help="skip the plain BoTorch recipe (minutes at large d)")
    parser.add_argument("--q", type=int, default=Q, help="points per proposal")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    cells = [tuple(int(v) for v in cell.split("x")) for cell in args.cells.split(",")]
    results = {}
    names = [name.strip() for name in args.proposers.split(",") if name.strip()]
    for n, d in cells:
        for index, name in enumerate(names):
            result = run_cell(n, d, args.seed, args.repeats, name, plain_too=not args.no_plain and index == 0,
                              q=args.q)
            key = f"n={n},d={d}" if name == "qlognehvi" and len(names) == 1 else f"n={n},d={d},{name}"
            results[key] = result
            print(json.dumps(result), flush=True)
    print(json.dumps({"q": args.q, "m": M, "threads": args.threads, "cells": results}))


if __name__ == "__main__":
    main()
