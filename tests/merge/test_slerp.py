import math

import pytest
import torch

from mmmo.errors import MergeError
from mmmo.plan import MergePlan


def test_slerp_endpoints_and_midpoint_norm(tiny_merger, live):
    pool = tiny_merger.pool
    name = "model.layers.0.self_attn.q_proj.weight"
    a = pool.base_state[name] + pool.delta("alpha")[name]
    b = pool.base_state[name] + pool.delta("beta")[name]
    tiny_merger.apply(MergePlan.uniform("slerp", ("alpha", "beta"), options={"t": 0.0}))
    torch.testing.assert_close(live(tiny_merger)[name], a)
    tiny_merger.apply(MergePlan.uniform("slerp", ("alpha", "beta"), weight=[0.0, 1.0]))
    torch.testing.assert_close(live(tiny_merger)[name], b)
    tiny_merger.apply(MergePlan.uniform("slerp", ("alpha", "beta"), weight=[1.0, 1.0]))
    mid = live(tiny_merger)[name]
    cos = float((a * b).sum() / (a.norm() * b.norm()))
    theta = math.acos(cos)
    expected = (math.sin(theta / 2) / math.sin(theta)) * (a + b)
    torch.testing.assert_close(mid, expected)


def test_slerp_needs_exactly_two_sources(tiny_merger):
    with pytest.raises(MergeError, match="exactly 2 sources, the plan has 3"):
        tiny_merger.apply(MergePlan.uniform("slerp", tiny_merger.pool.names))


def test_slerp_rejects_t_out_of_range(tiny_merger):
    with pytest.raises(MergeError, match="t must be in"):
        tiny_merger.apply(MergePlan.uniform("slerp", ("alpha", "beta"), options={"t": 1.5}))


def test_slerp_parity_with_mergekit(tiny_merger, mergekit_parity, tmp_path):
    mergekit_parity(tiny_merger, MergePlan.uniform("slerp", ("beta", "gamma"), weight=[0.35, 0.65]), tmp_path)
