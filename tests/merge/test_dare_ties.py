import pytest
import torch

from mmmo.merge.dare_ties import DARE_TIES
from mmmo.plan import MergePlan


def test_dare_ties_is_bit_reproducible_per_seed(tiny_merger, live):
    names = tiny_merger.pool.names
    plan = MergePlan.uniform("dare_ties", names, weight=[1.0, 0.5, 0.7], density=0.4, seed=11)
    tiny_merger.apply(plan)
    first = live(tiny_merger)
    tiny_merger.apply(MergePlan.uniform("task_arithmetic", names))  # something else in between
    tiny_merger.apply(plan)
    second = live(tiny_merger)
    assert all(torch.equal(first[n], second[n]) for n in first)
    tiny_merger.apply(MergePlan.uniform("dare_ties", names, weight=[1.0, 0.5, 0.7], density=0.4, seed=12))
    other = live(tiny_merger)
    assert any(not torch.equal(first[n], other[n]) for n in first)


def test_dare_ties_masks_differ_between_tensors(tiny_merger, live):
    pool = tiny_merger.pool
    tiny_merger.apply(MergePlan.uniform("dare_ties", ("alpha",), density=0.5, seed=0))
    merged = live(tiny_merger)
    a, b = "model.layers.0.mlp.up_proj.weight", "model.layers.1.mlp.up_proj.weight"
    keep_a = (merged[a] - pool.base_state[a]) != 0
    keep_b = (merged[b] - pool.base_state[b]) != 0
    assert not torch.equal(keep_a, keep_b)


def test_dare_ties_keep_rate_and_expected_value_match_mergekit(
    tiny_merger, live, mergekit_runner, random_stats, tmp_path
):
    from mmmo.merge.mergekit_config import mergekit_config

    pool = tiny_merger.pool
    plan = MergePlan.uniform("dare_ties", pool.names, weight=[1.0, 0.6, 0.8], density=0.5, seed=3)
    tiny_merger.apply(plan)
    ours = random_stats(live(tiny_merger), pool, pool.names)
    theirs_state = mergekit_runner(mergekit_config(plan, pool.base_path, pool.source_paths), tmp_path, seed=3)
    theirs = random_stats(theirs_state, pool, pool.names)
    assert ours[0] == pytest.approx(theirs[0], abs=0.02)
    assert ours[1] == pytest.approx(theirs[1], rel=0.05)


def test_dare_ties_defaults_follow_mergekit():
    assert dict(DARE_TIES.defaults) == {"normalize": False, "rescale": True, "lambda": 1.0}
