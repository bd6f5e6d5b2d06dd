import pytest
import torch

from mmmo.merge.base import Scratch
from mmmo.merge.random_keep import KEEP_BITS, draw_keep_mask, keep_level, quantized_density


def test_keep_probability_is_quantised_to_steps_of_two_to_minus_bits():
    steps = 1 << KEEP_BITS
    assert quantized_density(0.5) == 0.5
    assert quantized_density(0.3) == round(0.3 * steps) / steps
    assert abs(quantized_density(0.3) - 0.3) <= 0.5 / steps
    assert keep_level(0.0) == 0 and keep_level(0.4 / steps) == 0
    assert keep_level(1.0) == steps


@pytest.mark.parametrize("density", [0.05, 0.3, 0.5, 0.9])
def test_mask_is_zero_one_with_the_quantised_keep_rate(density):
    m = 200_000
    generator = torch.Generator().manual_seed(0)
    mask = draw_keep_mask(generator, keep_level(density), torch.empty(m), Scratch(torch.device("cpu")))
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    q = quantized_density(density)
    # Standard error of the mean of m Bernoulli draws; 5 of them is far out.
    assert abs(float(mask.mean()) - q) < 5 * (q * (1 - q) / m) ** 0.5


def test_mask_does_not_depend_on_how_it_is_cut_into_chunks():
    scratch = Scratch(torch.device("cpu"))
    level = keep_level(0.4)
    whole = draw_keep_mask(torch.Generator().manual_seed(7), level, torch.empty(4000), scratch).clone()
    generator = torch.Generator().manual_seed(7)
    parts = [draw_keep_mask(generator, level, torch.empty(size), scratch).clone() for size in (1024, 2048, 928)]
    assert torch.equal(torch.cat(parts), whole)
