import pytest
import torch

from mmmo.errors import MergeError
from mmmo.plan import MergePlan


def test_linear_is_normalised_weighted_average(tiny_merger, live):
    pool = tiny_merger.pool
    weights = [1.0, 2.0, 1.0]
    tiny_merger.apply(MergePlan.uniform("linear", pool.names, weight=weights))
    merged = live(tiny_merger)
    for name, base in pool.base_state.items():
        thetas = [base + pool.delta(s)[name] for s in pool.names]
        expected = sum(w * t for w, t in zip(weights, thetas)) / sum(weights)
        torch.testing.assert_close(merged[name], expected)


def test_linear_without_normalize_is_weighted_sum(tiny_merger, live):
    pool = tiny_merger.pool
    tiny_merger.apply(MergePlan.uniform("linear", pool.names, weight=[0.5, 0.5, 0.5], options={"normalize": False}))
    name = "model.norm.weight"
    expected = sum(0.5 * (pool.base_state[name] + pool.delta(s)[name]) for s in pool.names)
    torch.testing.assert_close(live(tiny_merger)[name], expected)


def test_linear_rejects_zero_weight_sum_and_density(tiny_merger):
    names = tiny_merger.pool.names
    with pytest.raises(MergeError, match="sum to zero"):
        tiny_merger.apply(MergePlan.uniform("linear", names, weight=[1.0, -1.0, 0.0]))
    with pytest.raises(MergeError, match="'alpha' has density 0.5"):
        tiny_merger.apply(MergePlan.uniform("linear", names, density=0.5))


def test_linear_parity_with_mergekit(tiny_merger, mergekit_parity, tmp_path):
    plan = MergePlan.uniform("linear", tiny_merger.pool.names, weight=[0.2, 0.3, 0.5])
    mergekit_parity(tiny_merger, plan, tmp_path)
