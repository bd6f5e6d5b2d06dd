import pytest
import torch

from mmmo.errors import MergeError
from mmmo.plan import MergePlan


def test_breadcrumbs_drops_smallest_and_largest(tiny_merger, live):
    pool = tiny_merger.pool
    tiny_merger.apply(MergePlan.uniform("breadcrumbs", ("gamma",), density=0.6, options={"gamma": 0.1}))
    name = "model.layers.1.mlp.down_proj.weight"
    delta = pool.delta("gamma")[name].reshape(-1)
    n = delta.numel()
    order = delta.abs().argsort()
    target, top = int(0.6 * n), int(0.1 * n)
    bottom = n - target - top
    expected = torch.zeros_like(delta)
    expected[order[bottom : bottom + target]] = delta[order[bottom : bottom + target]]
    merged = live(tiny_merger)[name].reshape(-1) - pool.base_state[name].reshape(-1)
    torch.testing.assert_close(merged, expected, atol=1e-7, rtol=1e-6)


def test_breadcrumbs_parity_with_mergekit(tiny_merger, mergekit_parity, tmp_path):
    plan = MergePlan.uniform(
        "breadcrumbs", tiny_merger.pool.names, weight=[0.6, 0.3, 0.9], density=[0.5, 0.8, 0.2], options={"gamma": 0.05}
    )
    mergekit_parity(tiny_merger, plan, tmp_path)


def test_breadcrumbs_rejects_gamma_out_of_range(tiny_merger):
    with pytest.raises(MergeError, match="'gamma' must be in"):
        tiny_merger.apply(MergePlan.uniform("breadcrumbs", ("alpha",), density=0.5, options={"gamma": 1.5}))
