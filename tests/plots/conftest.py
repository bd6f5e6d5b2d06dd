"""A synthetic ``Campaign.trials()`` table, shaped by the column convention."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

SOURCES = ("math", "code", "copy")
OBJECTIVES = ("math_em", "code_em", "copy_em")


def synthetic_trials(n_searched: int = 24, objectives: tuple[str, ...] = OBJECTIVES, seed: int = 0) -> pd.DataFrame:
    """References (base, sources, four recipes), searched trials, one failed and one running."""
    rng = np.random.default_rng(seed)
    rows = []

    def row(trial_id, label, proposer, status="complete", scores=None, params=None, error=None):
        out = {"trial_id": trial_id, "status": status, "proposer": proposer, "label": label,
               "origin": "reference" if proposer == "reference" else "searched",
               "method": "dare_ties", "seconds_merge": 0.1, "seconds_eval": 1.0,
               "seconds_propose": 0.0, "error": error, "seed": trial_id}
        for s in SOURCES:
            out[f"weight[all][{s}]"] = (params or {}).get(f"weight[all][{s}]", np.nan)
            out[f"density[all][{s}]"] = (params or {}).get(f"density[all][{s}]", np.nan)
        for k, o in enumerate(objectives):
            out[o] = None if scores is None else scores[k]
        return out

    def plan(weights, density):
        return {f"weight[all][{s}]": w for s, w in zip(SOURCES, weights)} | {
            f"density[all][{s}]": density for s in SOURCES}

    # References carry the values of their plans, as in a campaign's table.
    m, k_sources = len(objectives), len(SOURCES)
    rows.append(row(0, "base", "reference", scores=[0.05] * m, params=plan([0.0] * k_sources, 1.0)))
    for k, s in enumerate(SOURCES):
        rows.append(row(1 + k, s, "reference", scores=[0.9 if i == k else 0.1 for i in range(m)],
                        params=plan([float(i == k) for i in range(k_sources)], 1.0)))
    recipes = {"recipe:linear": ([1 / k_sources] * k_sources, 1.0), "recipe:task_arithmetic": ([1.0] * k_sources, 1.0),
               "recipe:ties": ([1.0] * k_sources, 0.5), "recipe:dare_ties": ([1.0] * k_sources, 0.5)}
    for k, (recipe, (weights, density)) in enumerate(recipes.items()):
        rows.append(row(4 + k, recipe, "reference", scores=[0.3 + 0.05 * k] * m, params=plan(weights, density)))
    for t in range(n_searched):
        weights = rng.uniform(0, 1, size=len(SOURCES))
        params = {f"weight[all][{s}]": float(w) for s, w in zip(SOURCES, weights)}
        params |= {f"density[all][{s}]": float(rng.uniform(0.1, 1)) for s in SOURCES}
        scores = [float(np.clip(weights[i % len(SOURCES)] * 0.8 + rng.normal(0, 0.05), 0, 1)) for i in range(m)]
        rows.append(row(8 + t, None, "sobol" if t < 8 else "qlognehvi", scores=scores, params=params))
    rows.append(row(8 + n_searched, None, "qlognehvi", status="failed", error="NaN in logits"))
    rows.append(row(9 + n_searched, None, "qlognehvi", status="running"))
    return pd.DataFrame(rows)


@pytest.fixture
def trials() -> pd.DataFrame:
    return synthetic_trials()


@pytest.fixture
def directions() -> dict[str, str]:
    return {o: "maximize" for o in OBJECTIVES}
