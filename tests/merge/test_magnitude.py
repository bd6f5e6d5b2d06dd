import pytest
import torch

from mmmo.merge import native
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
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("kernel", [True, False])
def test_order_statistic_equals_full_sort(values, dtype, kernel, monkeypatch):
    if not kernel:
        monkeypatch.setattr(native, "available", lambda: False)
    values = values.to(dtype)
    index = MagnitudeIndex.build(values, bins=64)
    sorted_abs = values.float().abs().sort().values
    scratch = Scratch(torch.device("cpu"))
    for rank in range(0, values.numel(), 37):
        assert index.order_statistic(values, rank, scratch, chunk=1000) == float(sorted_abs[rank])


def test_repeated_magnitudes_are_not_gathered():
    # A task vector of a bfloat16 checkpoint: a fifth exact zeros, long runs of equal values.
    generator = torch.Generator().manual_seed(2)
    base = (torch.randn(200_000, generator=generator) * 0.02).bfloat16()
    delta = (base.float() * (1 + 0.01 * torch.randn(base.shape, generator=generator))).bfloat16() - base
    index = MagnitudeIndex.build(delta, bins=64)
    sorted_abs = delta.float().abs().sort().values
    gathered = []
    real = native.bracket_magnitudes

    def spy(*args):
        found = real(*args)
        gathered.append(found.numel())
        return found

    scratch = Scratch(torch.device("cpu"))
    for rank in range(0, delta.numel(), 997):
        assert index.order_statistic(delta.float(), rank, scratch, chunk=4096) == float(sorted_abs[rank])
    native.bracket_magnitudes, saved = spy, native.bracket_magnitudes
    try:
        for rank in range(0, delta.numel(), 997):
            index.order_statistic(delta.float(), rank, scratch, chunk=4096)
    finally:
        native.bracket_magnitudes = saved
    # A stored interval spans about n / 64 ranks; equal values beyond that are counted, not gathered.
    assert max(gathered, default=0) <= delta.numel() // 64 + 1


def test_keep_count_follows_mergekit():
    assert keep_count(0.5, 11) == 5
    assert keep_count(1e-9, 11) == 1
