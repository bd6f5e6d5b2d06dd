import pytest
import torch

from mmmo.errors import MergeError
from mmmo.plan import MergePlan


def test_model_stock_ratio_from_pairwise_angle(tiny_merger, live):
    pool = tiny_merger.pool
    tiny_merger.apply(MergePlan.uniform("model_stock", ("alpha", "beta")))
    name = "model.layers.1.self_attn.k_proj.weight"
    d1, d2 = pool.delta("alpha")[name].reshape(-1), pool.delta("beta")[name].reshape(-1)
    cos = float(d1 @ d2 / (d1.norm() * d2.norm()))
    t = 2 * cos / (1 + cos)
    expected = pool.base_state[name] + t * (pool.delta("alpha")[name] + pool.delta("beta")[name]) / 2
    torch.testing.assert_close(live(tiny_merger)[name], expected)


def test_model_stock_needs_two_sources(tiny_merger):
    with pytest.raises(MergeError, match="at least 2 sources"):
        tiny_merger.apply(MergePlan.uniform("model_stock", ("alpha",)))


def test_model_stock_parity_with_mergekit(tiny_merger, mergekit_parity, tmp_path):
    mergekit_parity(tiny_merger, MergePlan.uniform("model_stock", tiny_merger.pool.names), tmp_path)
