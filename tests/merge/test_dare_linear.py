import torch

from mmmo.merge.dare_linear import DARE_LINEAR
from mmmo.plan import MergePlan


def test_dare_linear_keep_rate_and_expected_value_match_mergekit(
    tiny_merger, live, mergekit_runner, random_stats, tmp_path
):
    from mmmo.merge.mergekit_config import mergekit_config

    pool = tiny_merger.pool
    plan = MergePlan.uniform("dare_linear", ("alpha",), weight=1.0, density=0.3, seed=5)
    tiny_merger.apply(plan)
    ours = random_stats(live(tiny_merger), pool, ("alpha",))
    theirs_state = mergekit_runner(mergekit_config(plan, pool.base_path, pool.source_paths), tmp_path, seed=5)
    theirs = random_stats(theirs_state, pool, ("alpha",))
    # ~20k entries: the keep rate's standard error is ~0.003, the projection's ~0.01.
    assert abs(ours[0] - 0.3) < 0.02 and abs(theirs[0] - 0.3) < 0.02
    assert abs(ours[1] - 1.0) < 0.06 and abs(theirs[1] - 1.0) < 0.06


def test_dare_linear_rescales_survivors_by_one_over_density(tiny_merger, live):
    pool = tiny_merger.pool
    tiny_merger.apply(MergePlan.uniform("dare_linear", ("beta",), weight=2.0, density=0.25, seed=1))
    name = "model.layers.0.mlp.gate_proj.weight"
    delta = live(tiny_merger)[name] - pool.base_state[name]
    kept = delta != 0
    torch.testing.assert_close(delta[kept], 2.0 / 0.25 * pool.delta("beta")[name][kept], rtol=1e-4, atol=1e-6)


def test_dare_linear_without_rescale_keeps_survivors_unscaled(tiny_merger, live):
    pool = tiny_merger.pool
    plan = MergePlan.uniform("dare_linear", ("beta",), density=0.5, options={"rescale": False})
    tiny_merger.apply(plan)
    name = "model.layers.0.mlp.gate_proj.weight"
    delta = live(tiny_merger)[name] - pool.base_state[name]
    kept = delta != 0
    torch.testing.assert_close(delta[kept], pool.delta("beta")[name][kept], rtol=1e-4, atol=1e-6)


def test_dare_linear_defaults_follow_mergekit():
    assert dict(DARE_LINEAR.defaults) == {"normalize": False, "rescale": True, "lambda": 1.0}


def test_dare_linear_rescales_by_the_quantised_keep_probability(tiny_merger, live):
    from mmmo.merge.random_keep import quantized_density

    pool = tiny_merger.pool
    tiny_merger.apply(MergePlan.uniform("dare_linear", ("alpha",), weight=1.0, density=0.3, seed=2))
    name = "model.layers.1.mlp.up_proj.weight"
    delta = live(tiny_merger)[name] - pool.base_state[name]
    kept = delta != 0
    assert quantized_density(0.3) != 0.3
    torch.testing.assert_close(
        delta[kept], pool.delta("alpha")[name][kept] / quantized_density(0.3), rtol=1e-4, atol=1e-6
    )
