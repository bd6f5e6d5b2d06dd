"""Merging 16-bit tensors: float32 arithmetic, one rounding, the same kept entries as in float32."""

import pytest
import torch

from mmmo.merge import native
from mmmo.merge.base import Scratch, TensorJob, budget_chunk
from mmmo.merge.magnitude import MagnitudeIndex
from mmmo.merge.methods import METHODS, get_method
from mmmo.plan import MergePlan, SourceParams

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")),
]
# method -> (weights, densities, options); three sources, slerp two.
CASES = {
    "linear": ((0.5, 0.3, 0.2), (1.0, 1.0, 1.0), {}),
    "task_arithmetic": ((0.7, 1.3, -0.4), (1.0, 1.0, 1.0), {}),
    "ties": ((1.0, 0.6, 1.4), (0.2, 0.55, 1.0), {}),
    "dare_linear": ((0.5, 0.9, 0.2), (0.25, 0.5, 0.75), {}),
    "dare_ties": ((0.5, 0.3, 0.2), (0.5, 0.3, 0.9), {}),
    "della": ((1.0, 0.7, 0.5), (0.5, 0.4, 0.6), {}),
    "breadcrumbs": ((1.0, 0.5, 0.7), (0.6, 0.9, 1.0), {"gamma": 0.05}),
    "slerp": ((0.4, 0.6), (1.0, 1.0), {}),
    "model_stock": ((1.0, 1.0, 1.0), (1.0, 1.0, 1.0), {}),
}
SHAPE = torch.Size([97, 61])  # rows for DELLA; 5917 entries, not a whole number of chunks


def test_every_method_is_in_the_matrix():
    assert set(CASES) == set(METHODS)


def _inputs(sources: int, base_zero: bool) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """Base and task vectors whose values are bfloat16 numbers, so both dtypes start from the same values."""
    generator = torch.Generator().manual_seed(sources)
    n = SHAPE.numel()
    base = torch.zeros(n) if base_zero else torch.randn(n, generator=generator)
    deltas = tuple(torch.randn(n, generator=generator) * 1e-2 for _ in range(sources))
    return base.bfloat16().float(), tuple(d.bfloat16().float() for d in deltas)


def _merge(
    method: str, dtype: torch.dtype, device: str, base_zero: bool = False, densities: tuple | None = None
) -> torch.Tensor:
    weights, case_densities, options = CASES[method]
    densities = densities or case_densities
    names = ["a", "b", "c"][: len(weights)]
    base, deltas = _inputs(len(weights), base_zero)
    base, deltas = base.to(device, dtype), tuple(d.to(device, dtype) for d in deltas)
    merge_method = get_method(method)
    plan = MergePlan.uniform(method, names, list(weights), list(densities), options, seed=3)
    out = torch.full_like(base, float("nan"))
    magnitudes = tuple(MagnitudeIndex.build(d, bins=32) for d in deltas) if merge_method.uses_magnitudes else None
    merge_method.merge(
        TensorJob(
            name="model.layers.0.mlp.up_proj.weight",
            shape=SHAPE,
            base=base,
            deltas=deltas,
            params=tuple(SourceParams(w, d) for w, d in zip(weights, densities)),
            options=merge_method.validate(plan),
            seed=3,
            out=out,
            scratch=Scratch(torch.device(device)),
            chunk=1024,
            magnitudes=magnitudes,
        )
    )
    assert out.dtype == dtype
    return out.cpu()


@pytest.fixture(params=["kernel", "torch"])
def path(request, monkeypatch):
    """Run each case on the C kernel (where it applies) and on the torch path."""
    if request.param == "kernel" and not native.available():
        pytest.skip("no C compiler")
    if request.param == "torch":
        monkeypatch.setattr(native, "available", lambda: False)
    return request.param


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("method", sorted(CASES))
def test_16_bit_merge_is_the_float32_merge_rounded_once(method, dtype, device, path):
    wide = _merge(method, torch.float32, device)
    narrow = _merge(method, dtype, device)
    assert not torch.isnan(wide).any()
    # Same float32 arithmetic on the same values: only the final rounding differs.
    assert torch.equal(narrow, wide.to(dtype)), f"{(narrow.float() != wide.to(dtype).float()).sum()} entries differ"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method", ["ties", "dare_linear", "dare_ties", "della", "breadcrumbs"])
def test_sparsifying_methods_keep_the_same_entries_in_every_dtype(method, device, path):
    # With a zero base, the merged tensor is nonzero exactly where some source's entry was kept.
    densities = (0.2, 0.3, 0.4)
    wide = _merge(method, torch.float32, device, base_zero=True, densities=densities)
    kept = wide != 0
    assert 0.2 < kept.float().mean() < 0.9
    for dtype in (torch.bfloat16, torch.float16):
        assert torch.equal(_merge(method, dtype, device, base_zero=True, densities=densities) != 0, kept), dtype


@pytest.mark.parametrize("method", ["dare_linear", "dare_ties"])
def test_slices_with_an_offset_merge_to_the_bits_of_the_whole(method, path):
    whole = _merge(method, torch.bfloat16, "cpu")
    weights, densities, options = CASES[method]
    base, deltas = _inputs(len(weights), base_zero=False)
    merge_method = get_method(method)
    plan = MergePlan.uniform(method, ["a", "b", "c"], list(weights), list(densities), options, seed=3)
    out = torch.empty(SHAPE.numel(), dtype=torch.bfloat16)
    for start, stop in [(0, 2048), (2048, 4100), (4100, SHAPE.numel())]:
        merge_method.merge(
            TensorJob(
                name="model.layers.0.mlp.up_proj.weight",
                shape=torch.Size([stop - start]),
                base=base[start:stop].bfloat16(),
                deltas=tuple(d[start:stop].bfloat16() for d in deltas),
                params=tuple(SourceParams(w, d) for w, d in zip(weights, densities)),
                options=merge_method.validate(plan),
                seed=3,
                out=out[start:stop],
                scratch=Scratch(torch.device("cpu")),
                chunk=1024,
                offset=start,
            )
        )
    assert torch.equal(out, whole)


def test_magnitude_index_of_a_16_bit_delta_equals_its_float32_index():
    delta = torch.randn(10_000, generator=torch.Generator().manual_seed(0)).bfloat16()
    narrow, wide = MagnitudeIndex.build(delta, bins=16), MagnitudeIndex.build(delta.float(), bins=16)
    assert narrow.values.dtype == torch.float32
    assert torch.equal(narrow.values, wide.values) and torch.equal(narrow.below, wide.below)
    scratch = Scratch(torch.device("cpu"))
    for rank in (0, 17, 5_003, 9_999):
        expected = float(delta.float().abs().sort().values[rank])
        assert narrow.order_statistic(delta, rank, scratch, 512) == expected


@pytest.mark.parametrize("sources", [1, 4, 8])
def test_budget_chunk_fits_the_budget(sources):
    budget = 64 << 20
    chunk = budget_chunk(budget, sources)
    assert chunk % 1024 == 0
    assert chunk * (8 * sources + 76) <= budget
    assert budget_chunk(budget, sources + 1) <= chunk
    assert budget_chunk(1, sources) == 1024  # never below the floor


@pytest.mark.skipif(not native.available(), reason="no C compiler")
@pytest.mark.parametrize("method", ["task_arithmetic", "ties", "dare_ties", "breadcrumbs"])
def test_the_kernel_takes_bfloat16_whole_and_float16_chunk_by_chunk(method, monkeypatch):
    calls = []
    real = native.gta_merge
    monkeypatch.setattr(native, "gta_merge", lambda *a, **k: calls.append(k["offset"]) or real(*a, **k))
    _merge(method, torch.bfloat16, "cpu")
    assert calls == [0]  # the kernel widens bfloat16 itself
    calls.clear()
    _merge(method, torch.float16, "cpu")
    # Chunks of 1024 entries over 5917: one call per chunk, each drawing masks from its own offset.
    assert calls == list(range(0, SHAPE.numel(), 1024))
