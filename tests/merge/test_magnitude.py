import pytest
import torch

from mmmo.merge.base import Scratch
from mmmo.merge.magnitude import MagnitudeIndex, keep_count


@pytest.mark.parametrize(
    "values",
    [
        torch.randn(10007, generator=torch.Generator().manual_seed(0)),
        # many exact repeats, as in task vectors of bfloat16 checkpoints
        torch.randint(-5, 6, (10007,), generator=torch.Generator().manual_seed(1)).float(),
        torch.zeros(100),
    ],
)
def test_order_statistic_equals_full_sort(values):
    index = MagnitudeIndex.build(values, bins=64)
    sorted_abs = values.abs().sort().values
    scratch = Scratch(torch.device("cpu"))
    for rank in range(0, values.numel(), 37):
        assert index.order_statistic(values, rank, scratch, chunk=1000) == float(sorted_abs[rank])


def test_keep_count_follows_mergekit():
    assert keep_count(0.5, 11) == 5
    assert keep_count(1e-9, 11) == 1
