import pytest
import torch

from mmmo.merge import native
from mmmo.merge.random_keep import KEEP_BITS, draw_keep_mask, hash_words, keep_bytes, keep_level, quantized_density


def test_keep_probability_is_quantised_to_steps_of_two_to_minus_bits():
    steps = 1 << KEEP_BITS
    assert quantized_density(0.5) == 0.5
    assert quantized_density(0.3) == round(0.3 * steps) / steps
    assert abs(quantized_density(0.3) - 0.3) <= 0.5 / steps
    assert keep_level(0.0) == 0 and keep_level(0.4 / steps) == 0
    assert keep_level(1.0) == steps


def _reference_mix32(x: int) -> int:
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    return x ^ (x >> 16)


def test_hash_matches_the_documented_formula_in_plain_integers():
    key = 0x0123456789ABCDEF
    for word in (0, 1, 2**31 + 5, 2**32 + 7, 3 * 2**32 - 1):
        lo, hi = word & 0xFFFFFFFF, word >> 32
        expected = _reference_mix32(((_reference_mix32(lo ^ (key & 0xFFFFFFFF)) + hi) & 0xFFFFFFFF) ^ (key >> 32))
        assert int(hash_words(key, word, 1)[0]) == expected


@pytest.mark.parametrize("density", [0.05, 0.3, 0.5, 0.9])
def test_mask_is_zero_one_with_the_quantised_keep_rate(density):
    m = 200_000
    mask = draw_keep_mask(key=12345, start=0, level=keep_level(density), out=torch.empty(m))
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    q = quantized_density(density)
    # Standard error of the mean of m Bernoulli draws; 5 of them is far out.
    assert abs(float(mask.mean()) - q) < 5 * (q * (1 - q) / m) ** 0.5


def test_neighbouring_entries_and_keys_are_uncorrelated():
    m = 400_000
    u = keep_bytes(7, 0, m).double()
    # Adjacent bytes share a hash word; their correlation must still be ~0 (se ~ 1/sqrt(m)).
    centred = u - u.mean()
    assert abs(float((centred[:-1] * centred[1:]).mean() / centred.var())) < 5 / m**0.5
    other = keep_bytes(8, 0, m).double()
    assert abs(float(torch.corrcoef(torch.stack([u, other]))[0, 1])) < 5 / m**0.5


def test_mask_does_not_depend_on_how_it_is_cut_into_chunks():
    level = keep_level(0.4)
    whole = draw_keep_mask(7, 0, level, torch.empty(4001)).clone()
    parts, start = [], 0
    for size in (1023, 2050, 928):  # chunk boundaries off multiples of 4 too
        parts.append(draw_keep_mask(7, start, level, torch.empty(size)).clone())
        start += size
    assert torch.equal(torch.cat(parts), whole)


@pytest.mark.skipif(not native.available(), reason="no C compiler")
@pytest.mark.parametrize("n", [1, 3, 512, 1029, 70_001])
def test_the_c_kernel_draws_the_same_mask(n):
    delta = torch.randn(n, generator=torch.Generator().manual_seed(0))
    out = torch.empty(n)
    level, key = keep_level(0.3), 0xDEADBEEF12345678
    native.gta_merge(
        torch.zeros(n), [delta], kinds=["bernoulli"], lows=[0.0], highs=[0.0], levels=[level], keys=[key],
        coefficients=[1.0], weights=[1.0], consensus=False, normalize=False, scalar_divisor=1.0, lam=1.0, out=out,
    )  # fmt: skip
    assert torch.equal(out, delta * draw_keep_mask(key, 0, level, torch.empty(n)))
