import torch

from mmmo.merge.base import Scratch, TensorJob
from mmmo.merge.magnitude import MagnitudeIndex
from mmmo.merge.ties import TIES, merge_ties
from mmmo.plan import MergePlan, SourceParams


def _reference_ties(base, deltas, weights, densities):
    """TIES written out directly: top-k trim, weighted sign election, disjoint weighted mean."""
    taus = []
    for delta, w, d in zip(deltas, weights, densities):
        k = max(1, int(d * delta.numel()))
        mask = torch.zeros_like(delta)
        mask[delta.abs().argsort(descending=True)[:k]] = 1
        taus.append(w * delta * mask)
    stacked = torch.stack(taus)
    sign = torch.where(stacked.sum(0) >= 0, 1.0, -1.0)
    agree = stacked.sign() == sign
    weight = torch.tensor(weights)[:, None]
    divisor = (weight * agree).sum(0)
    divisor[divisor == 0] = 1
    return base + (stacked * agree).sum(0) / divisor


def test_ties_matches_written_out_definition():
    generator = torch.Generator().manual_seed(0)
    n = 5000
    base = torch.randn(n, generator=generator)
    deltas = tuple(torch.randn(n, generator=generator) for _ in range(3))
    weights, densities = (1.0, 0.6, 1.4), (0.2, 0.55, 1.0)
    out = torch.empty(n)
    job = TensorJob(
        name="w",
        shape=torch.Size([n]),
        base=base,
        deltas=deltas,
        params=tuple(SourceParams(w, d) for w, d in zip(weights, densities)),
        options={"normalize": True, "lambda": 1.0},
        seed=0,
        out=out,
        scratch=Scratch(torch.device("cpu")),
        chunk=777,  # chunks that do not divide n
        magnitudes=tuple(MagnitudeIndex.build(d, bins=16) for d in deltas),
    )
    merge_ties(job)
    torch.testing.assert_close(out, _reference_ties(base, deltas, weights, densities))


def test_ties_defaults_follow_mergekit():
    assert dict(TIES.defaults) == {"normalize": True, "lambda": 1.0}


def test_ties_parity_with_mergekit(tiny_merger, mergekit_parity, tmp_path):
    plan = MergePlan.uniform(
        "ties", tiny_merger.pool.names, weight=[1.0, 0.5, 0.8], density=[0.5, 0.3, 0.9]
    )
    mergekit_parity(tiny_merger, plan, tmp_path)


def test_ties_lambda_scales_the_merged_delta(tiny_merger):
    names = tiny_merger.pool.names
    tiny_merger.apply(MergePlan.uniform("ties", names, density=0.4))
    one = {n: p.detach().clone() for n, p in tiny_merger.model.named_parameters()}
    tiny_merger.apply(MergePlan.uniform("ties", names, density=0.4, options={"lambda": 0.5}))
    name = "model.layers.0.mlp.up_proj.weight"
    base = tiny_merger.pool.base_state[name]
    torch.testing.assert_close(tiny_merger.model.get_parameter(name) - base, 0.5 * (one[name] - base))
