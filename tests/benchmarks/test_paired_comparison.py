"""The paired comparison's rules: reaching a hypervolume, wins, and the seed-count targets."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from paired_comparison import comparison, evals_to_reach, paired, targets  # noqa: E402


def figures(by_seed: dict[int, list[float]], start: float = 0.0, seconds: float = 1.0) -> dict:
    curves = {seed: np.asarray(c) for seed, c in by_seed.items()}
    return {"seed_curves": curves, "hv_start": start, "hv_at_budget": float(np.mean([c[-1] for c in curves.values()])),
            "seconds_propose": seconds}


def test_evals_to_reach_counts_from_the_free_trials():
    assert evals_to_reach([0.1, 0.5, 0.7], 0.5) == 2
    assert evals_to_reach([0.1, 0.5, 0.7], 0.5, start=0.6) == 0
    assert evals_to_reach([0.1, 0.5, 0.7], 0.8) is None


def test_wins_are_counted_on_the_seeds_both_methods_ran():
    summary = {"ours": figures({0: [0.2, 0.6], 1: [0.5], 2: [0.9]}), "peer": figures({0: [0.5], 1: [0.5], 3: [0.1]})}
    versus = paired(summary, "ours", "peer")
    assert [r["seed"] for r in versus["seeds"]] == [0, 1]
    assert [r["ahead"] for r in versus["seeds"]] == [True, False]  # a tie is no win
    assert versus["ahead"] == "1 of 2" and versus["seeds"][0]["difference"] == pytest.approx(0.1)


def test_ahead_of_ax_needs_six_paired_seeds_and_four_wins():
    ours = {s: [0.6] for s in range(6)}
    summary = {"ours": figures(ours, seconds=2.0), "ax": figures({s: [0.5] for s in range(6)})}
    found = targets(summary, comparison(summary, "ours", ["ax"], budget=1), ["ours", "ax"], budget=1)
    assert found["ahead_of_ax_on_4_of_6_seeds"] and found["seeds_ahead_of_ax"] == "6 of 6"
    assert found["seconds_propose_per_run"] == 2.0
    five = {"ours": figures({s: [0.6] for s in range(5)}), "ax": figures({s: [0.5] for s in range(5)})}
    found = targets(five, comparison(five, "ours", ["ax"], budget=1), ["ours", "ax"], budget=1)
    assert found["seeds_ahead_of_ax"] == "5 of 5" and not found["ahead_of_ax_on_4_of_6_seeds"]


def test_best_peer_final_within_sixty_percent_of_the_budget_in_mean():
    # The peer ends at 0.5; ours reaches it after 6 and 4 of 10 evaluations: 5.0 in mean, within 6.
    summary = {"ours": figures({0: [0.1] * 5 + [0.5] * 5, 1: [0.1] * 3 + [0.6] * 7}),
               "peer": figures({0: [0.5] * 10, 1: [0.5] * 10}), "worse": figures({0: [0.2] * 10, 1: [0.2] * 10})}
    compared = comparison(summary, "ours", ["peer", "worse"], budget=10)
    assert compared["best_peer"] == "peer" and "versus_ax" not in compared
    assert compared["evals_to_best_peer_final"]["ours"]["per_seed"] == [6, 4]
    assert compared["evals_to_best_peer_final"]["worse"] == {"mean_censored": 11.0, "reached": "0/2",
                                                             "per_seed": [None, None]}
    found = targets(summary, compared, list(summary), budget=10)
    assert found["evals_to_best_peer_final"] == 5.0 and found["best_peer_final_in_60_percent"]
    assert found["seeds_ahead_of_ax"] is None and not found["ahead_of_ax_on_4_of_6_seeds"]
    slower = {**summary, "ours": figures({0: [0.1] * 7 + [0.5] * 3, 1: [0.1] * 6 + [0.6] * 4})}
    found = targets(slower, comparison(slower, "ours", ["peer"], 10), list(slower), 10)
    assert found["evals_to_best_peer_final"] == 7.5 and not found["best_peer_final_in_60_percent"]
