"""``pareto_merging_vs_search.py``: its command-line options reach the Pareto Merging training config."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def script():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import pareto_merging_vs_search
    finally:
        sys.path.remove(str(BENCHMARKS))
    return pareto_merging_vs_search


def test_given_batch_size_and_learning_rate_reach_the_training_config(script):
    from mmmo.pareto_merging.config import TrainingSpec

    training = TrainingSpec(**script.training_options(30, 4, 3e-3))
    assert (training.steps, training.batch_size, training.learning_rate) == (30, 4, 3e-3)


def test_unset_options_keep_the_training_config_defaults(script):
    from mmmo.pareto_merging.config import TrainingSpec

    default = TrainingSpec(steps=30)
    training = TrainingSpec(**script.training_options(30, None, None))
    assert (training.batch_size, training.learning_rate) == (default.batch_size, default.learning_rate)
