import torch

from mmmo.pareto_merging.model import PreferenceLowRank

SHAPES = {"layers.0.mlp.down_proj.weight": (8, 16), "layers.1.mlp.down_proj.weight": (8, 16)}


def _randomised(rank: int = 3) -> PreferenceLowRank:
    module = PreferenceLowRank(SHAPES, num_tasks=3, rank=rank, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for g in module.G.values():
            g.normal_()
    return module


def test_correction_starts_at_zero_for_every_preference():
    module = PreferenceLowRank(SHAPES, num_tasks=3, rank=2)
    for p in (torch.tensor([1.0, 0, 0]), torch.tensor([0.2, 0.3, 0.5])):
        for delta in module.deltas(p).values():
            assert delta.shape == (8, 16)
            assert torch.count_nonzero(delta) == 0


def test_correction_is_linear_in_the_preference_and_low_rank():
    module = _randomised(rank=3)
    corners = [module.delta("layers.0.mlp.down_proj.weight", e) for e in torch.eye(3)]
    p = torch.tensor([0.2, 0.3, 0.5])
    mixed = module.delta("layers.0.mlp.down_proj.weight", p)
    assert torch.allclose(mixed, sum(w * c for w, c in zip(p, corners)), atol=1e-5)
    assert torch.linalg.matrix_rank(mixed) <= 3
    assert not torch.allclose(corners[0], corners[1])


def test_gradients_reach_the_core_from_the_zero_start():
    module = PreferenceLowRank(SHAPES, num_tasks=3, rank=2, generator=torch.Generator().manual_seed(0))
    module.delta("layers.0.mlp.down_proj.weight", torch.tensor([0.6, 0.2, 0.2])).sum().backward()
    grad = module.G["layers__0__mlp__down_proj__weight"].grad
    assert grad is not None and grad.abs().sum() > 0
    # The preference weights the core's slices.
    assert torch.allclose(grad[0], 3 * grad[1]) and torch.allclose(grad[1], grad[2])


def test_parameter_count_matches_the_module():
    module = _randomised(rank=3)
    assert module.num_parameters() == PreferenceLowRank.parameter_count(SHAPES, 3, 3)
    assert module.num_parameters() == 2 * (3 * (8 + 16) + 3 * 3 * 3)


def test_task_scaling_coefficients_are_linear_in_the_preference_and_start_at_zero():
    from mmmo.pareto_merging.model import PreferenceTaskScaling

    scaling = PreferenceTaskScaling(tuple(SHAPES), num_sources=2, num_tasks=3)
    p = torch.tensor([0.2, 0.3, 0.5])
    assert torch.equal(scaling.coefficients("layers.0.mlp.down_proj.weight", p), torch.zeros(2))
    assert scaling.num_parameters() == 2 * 2 * 3
    with torch.no_grad():
        scaling.S["layers__0__mlp__down_proj__weight"].copy_(torch.tensor([[1.0, 0, 0], [0, 2.0, 1.0]]))
    got = scaling.coefficients("layers.0.mlp.down_proj.weight", p)
    assert torch.allclose(got, torch.tensor([0.2, 0.6 + 0.5]))
