import torch

from mmmo.merge.task_arithmetic import TASK_ARITHMETIC
from mmmo.plan import MergePlan


def test_task_arithmetic_adds_weighted_task_vectors(tiny_merger, live):
    pool = tiny_merger.pool
    weights = [0.5, -0.25, 1.5]
    tiny_merger.apply(MergePlan.uniform("task_arithmetic", pool.names, weight=weights, options={"lambda": 0.8}))
    merged = live(tiny_merger)
    for name, base in pool.base_state.items():
        expected = base + 0.8 * sum(w * pool.delta(s)[name] for w, s in zip(weights, pool.names))
        torch.testing.assert_close(merged[name], expected)


def test_task_arithmetic_normalize_divides_by_weight_sum(tiny_merger, live):
    pool = tiny_merger.pool
    weights = [1.0, 3.0, 0.0]
    tiny_merger.apply(MergePlan.uniform("task_arithmetic", pool.names, weight=weights, options={"normalize": True}))
    name = "model.layers.1.self_attn.o_proj.weight"
    expected = pool.base_state[name] + (pool.delta("alpha")[name] + 3 * pool.delta("beta")[name]) / 4
    torch.testing.assert_close(live(tiny_merger)[name], expected)


def test_task_arithmetic_defaults_follow_mergekit():
    assert dict(TASK_ARITHMETIC.defaults) == {"normalize": False, "lambda": 1.0}


def test_task_arithmetic_parity_with_mergekit(tiny_merger, mergekit_parity, tmp_path):
    plan = MergePlan.uniform("task_arithmetic", tiny_merger.pool.names, weight=[0.7, 0.2, -0.4])
    mergekit_parity(tiny_merger, plan, tmp_path)
