import pytest
import torch

from mmmo.errors import MergeError
from mmmo.merge.della import keep_probabilities
from mmmo.plan import MergePlan


def test_keep_probabilities_grow_with_magnitude_within_rows():
    delta = torch.tensor([[0.1, -3.0, 2.0], [5.0, 0.0, -1.0]])
    probs = keep_probabilities(delta.reshape(-1), delta.shape, density=0.5, epsilon=0.2).reshape(2, 3)
    torch.testing.assert_close(probs, torch.tensor([[0.3, 0.7, 0.5], [0.7, 0.3, 0.5]]))
    assert float(probs.mean()) == pytest.approx(0.5)


def test_della_keep_rate_and_expected_value_match_mergekit(
    tiny_merger, live, mergekit_runner, random_stats, tmp_path
):
    from mmmo.merge.mergekit_config import mergekit_config

    pool = tiny_merger.pool
    plan = MergePlan.uniform("della", ("alpha",), density=0.4, seed=2, options={"epsilon": 0.1})
    tiny_merger.apply(plan)
    ours = random_stats(live(tiny_merger), pool, ("alpha",))
    theirs_state = mergekit_runner(mergekit_config(plan, pool.base_path, pool.source_paths), tmp_path, seed=2)
    theirs = random_stats(theirs_state, pool, ("alpha",))
    assert abs(ours[0] - 0.4) < 0.02 and abs(theirs[0] - 0.4) < 0.02
    assert ours[1] == pytest.approx(1.0, abs=0.06) and theirs[1] == pytest.approx(1.0, abs=0.06)


def test_della_is_reproducible_and_rejects_bad_epsilon(tiny_merger, live):
    names = tiny_merger.pool.names
    plan = MergePlan.uniform("della", names, density=0.5, seed=4)
    tiny_merger.apply(plan)
    first = live(tiny_merger)
    tiny_merger.apply(plan)
    assert all(torch.equal(first[n], t) for n, t in live(tiny_merger).items())
    with pytest.raises(MergeError, match="source 'alpha' in group 'all' has density 0.1"):
        tiny_merger.apply(MergePlan.uniform("della", names, density=0.1, options={"epsilon": 0.15}))
