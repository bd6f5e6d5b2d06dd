"""The C kernel and the torch path merge alike (same keeps, same masks, sums up to rounding)."""

import pytest
import torch

from mmmo.merge import native
from mmmo.merge.base import Scratch, TensorJob
from mmmo.merge.magnitude import MagnitudeIndex
from mmmo.merge.methods import get_method
from mmmo.plan import MergePlan, SourceParams

pytestmark = pytest.mark.skipif(not native.available(), reason="no C compiler")

CASES = [
    ("task_arithmetic", {}, (0.7, 1.3, -0.4), (1.0, 1.0, 1.0)),
    ("task_arithmetic", {"normalize": True}, (0.7, 1.3, 0.4), (1.0, 1.0, 1.0)),
    ("ties", {}, (1.0, 0.6, 1.4), (0.2, 0.55, 1.0)),
    ("ties", {"normalize": False, "lambda": 0.8}, (1.0, -0.6, 1.4), (0.3, 0.05, 0.7)),
    ("dare_ties", {}, (0.5, 0.3, 0.2), (0.5, 0.3, 0.9)),
    ("dare_ties", {"normalize": True, "rescale": False}, (1.1, 0.3, 0.9), (0.1, 0.6, 1.0)),
    ("dare_linear", {}, (0.5, 0.9, 0.2), (0.25, 0.001, 0.75)),
    ("breadcrumbs", {}, (1.0, 0.5, 0.7), (0.6, 0.9, 1.0)),
]


def _job(method, options, weights, densities, n, out):
    generator = torch.Generator().manual_seed(n)
    base = torch.randn(n, generator=generator)
    deltas = tuple(torch.randn(n, generator=generator) * 0.01 for _ in weights)
    plan = MergePlan.uniform(method, ["a", "b", "c"], list(weights), list(densities), options, seed=5)
    merge_method = get_method(method)
    return merge_method, TensorJob(
        name="layer.weight",
        shape=torch.Size([n]),
        base=base,
        deltas=deltas,
        params=tuple(SourceParams(w, d) for w, d in zip(weights, densities)),
        options=merge_method.validate(plan),
        seed=5,
        out=out,
        scratch=Scratch(torch.device("cpu")),
        chunk=4096,  # several torch chunks, and a kernel block count that is not whole
        magnitudes=tuple(MagnitudeIndex.build(d, bins=64) for d in deltas) if merge_method.uses_magnitudes else None,
    )


@pytest.mark.parametrize("method,options,weights,densities", CASES)
@pytest.mark.parametrize("n", [1, 4097, 70_001])
def test_kernel_and_torch_path_agree(monkeypatch, method, options, weights, densities, n):
    kernel_out, torch_out = torch.full((n,), float("nan")), torch.full((n,), float("nan"))
    merge_method, job = _job(method, options, weights, densities, n, kernel_out)
    calls = []
    real = native.gta_merge
    monkeypatch.setattr(native, "gta_merge", lambda *a, **k: calls.append(1) or real(*a, **k))
    merge_method.merge(job)
    assert calls, "the kernel was not used for a float32 CPU job"

    monkeypatch.setattr(native, "usable", lambda *tensors, **kwargs: False)
    merge_method.merge(_job(method, options, weights, densities, n, torch_out)[1])
    assert not torch.isnan(kernel_out).any()
    torch.testing.assert_close(kernel_out, torch_out, rtol=1e-6, atol=1e-7)
    if method in ("dare_ties", "dare_linear"):  # the same entries were dropped
        assert torch.equal(kernel_out == job.base, torch_out == job.base)


def test_bracket_search_finds_the_same_order_statistics(monkeypatch):
    delta = torch.randn(50_000, generator=torch.Generator().manual_seed(3))
    delta[::7] = delta[1::7][: len(delta[::7])]  # repeated magnitudes, as after a bfloat16 round trip
    index = MagnitudeIndex.build(delta, bins=32)
    scratch = Scratch(torch.device("cpu"))
    ranks = [0, 1, 777, 25_000, 49_998, 49_999]
    expected = delta.abs().sort().values[ranks].tolist()
    assert [index.order_statistic(delta, r, scratch, 4096) for r in ranks] == expected
    monkeypatch.setattr(native, "usable", lambda *tensors, **kwargs: False)
    assert [index.order_statistic(delta, r, scratch, 4096) for r in ranks] == expected


def test_bracket_buffer_grows_when_the_bracket_is_larger_than_guessed():
    delta = torch.ones(10_000)
    assert native.bracket_magnitudes(delta, 1.0, 1.0, capacity=10).numel() == 10_000


def test_kernel_refuses_more_sources_than_it_holds():
    n = 8
    with pytest.raises(ValueError, match="sources"):
        native.gta_merge(
            torch.zeros(n), [torch.zeros(n)] * (native.MAX_SOURCES + 1), kinds=["all"] * 33, lows=[0.0] * 33,
            highs=[0.0] * 33, levels=[0] * 33, keys=[0] * 33, coefficients=[1.0] * 33, weights=[1.0] * 33,
            consensus=False, normalize=False, scalar_divisor=1.0, lam=1.0, out=torch.empty(n),
        )  # fmt: skip


def test_a_failed_build_falls_back_to_torch_with_a_warning(monkeypatch, tmp_path, caplog):
    # A fresh, unloaded library; monkeypatch puts the loaded one back afterwards.
    monkeypatch.setattr(native.kernel, "_library", None)
    monkeypatch.setattr(native.kernel, "_failed", False)
    monkeypatch.setenv("MMMO_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", "false")  # a "compiler" that always fails
    with caplog.at_level("WARNING", logger="mmmo.native"):
        assert not native.available()
    assert "could not compile the merge kernel" in caplog.text
    assert not native.usable(torch.zeros(4))


def test_the_kernel_forms_task_vectors_from_weights_as_the_reader_does():
    generator = torch.Generator().manual_seed(3)
    base = torch.randn(1003, generator=generator).bfloat16()
    weights = [(base.float() + 0.01 * torch.randn(1003, generator=generator)).bfloat16() for _ in range(3)]
    deltas = [w.float() - base.float() for w in weights]
    arguments = dict(
        kinds=["all", "bernoulli", "above"], lows=[0.0, 0.0, 0.004], highs=[float("inf")] * 3,
        levels=[0, 128, 0], keys=[0, 99, 0], coefficients=[0.5, -1.5, 0.8], weights=[0.5, -0.75, 0.8],
        normalize=False, scalar_divisor=1.0, lam=1.0,
    )  # fmt: skip
    for consensus in (False, True):
        expected = torch.empty(1003, dtype=torch.bfloat16)
        native.gta_merge(base, deltas, out=expected, consensus=consensus, **arguments)
        got = torch.empty(1003, dtype=torch.bfloat16)
        native.gta_merge(base, weights, out=got, consensus=consensus, from_weights=[True] * 3, **arguments)
        assert torch.equal(got, expected)
        mixed = torch.empty(1003, dtype=torch.bfloat16)
        native.gta_merge(base, [weights[0], deltas[1], weights[2]], out=mixed, consensus=consensus,
                         from_weights=[True, False, True], **arguments)  # fmt: skip
        assert torch.equal(mixed, expected)
        # Without the flags the weights would be read as task vectors: a different merge.
        wrong = torch.empty(1003, dtype=torch.bfloat16)
        native.gta_merge(base, weights, out=wrong, consensus=consensus, **arguments)
        assert not torch.equal(wrong, expected)
