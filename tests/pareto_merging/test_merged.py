import json

import pytest
import torch
from transformers import AutoModelForCausalLM

from mmmo.errors import ConfigError, MergeError
from mmmo.pareto_merging.merged import ParetoMergedModel, select_targets

TARGETS = ("*.mlp.down_proj.weight", "*.self_attn.o_proj.weight")


def _trained_like(pm: ParetoMergedModel) -> ParetoMergedModel:
    # Stand-in for training: a non-zero core so preferences differ.
    with torch.no_grad():
        gen = torch.Generator().manual_seed(3)
        for g in pm.correction.G.values():
            g.copy_(torch.randn(g.shape, generator=gen))
    return pm


def _task_vectors(model, sources=("x", "y", "z")):
    gen = torch.Generator().manual_seed(5)
    return {
        s: {n: 0.01 * torch.randn(p.shape, generator=gen) for n, p in model.named_parameters()}
        for s in sources
    }


def _inputs():
    ids = torch.randint(0, 40, (3, 7), generator=torch.Generator().manual_seed(0))
    return ids, torch.ones_like(ids)


def test_select_targets_matches_globs_and_names_a_pattern_that_matches_nothing(tiny_llama):
    chosen = select_targets(tiny_llama, TARGETS)
    assert sorted(chosen) == [
        "model.layers.0.mlp.down_proj.weight",
        "model.layers.0.self_attn.o_proj.weight",
        "model.layers.1.mlp.down_proj.weight",
        "model.layers.1.self_attn.o_proj.weight",
    ]
    assert chosen["model.layers.0.mlp.down_proj.weight"] == (32, 64)
    with pytest.raises(ConfigError, match=r"'\*\.mlp\.gate\.weight' matches no weight matrix"):
        select_targets(tiny_llama, ["*.mlp.gate.weight"])


def test_logits_start_at_the_merge_and_leave_the_live_model_untouched(tiny_llama):
    before = {n: p.detach().clone() for n, p in tiny_llama.named_parameters()}
    pm = ParetoMergedModel(tiny_llama, ["a", "b"], TARGETS, rank=2)
    ids, mask = _inputs()
    with torch.no_grad():
        plain = tiny_llama(input_ids=ids, attention_mask=mask).logits
        assert torch.allclose(pm.logits(torch.tensor([0.3, 0.7]), ids, mask), plain, atol=1e-6)
        _trained_like(pm)
        moved = pm.logits(torch.tensor([0.3, 0.7]), ids, mask)
    assert not torch.allclose(moved, plain, atol=1e-3)
    for name, param in tiny_llama.named_parameters():
        assert torch.equal(param, before[name]), name


def test_model_for_writes_the_same_weights_the_training_forward_uses(tiny_llama):
    start = {n: p.detach().clone() for n, p in tiny_llama.named_parameters()}
    pm = _trained_like(ParetoMergedModel(tiny_llama, ["a", "b"], TARGETS, rank=2))
    ids, mask = _inputs()
    with torch.no_grad():
        functional = pm.logits(torch.tensor([0.8, 0.2]), ids, mask)
        live = pm.model_for([4.0, 1.0])(input_ids=ids, attention_mask=mask).logits  # normalised
    assert torch.allclose(functional, live, atol=1e-5)
    changed = [n for n, p in tiny_llama.named_parameters() if not torch.equal(p, start[n])]
    assert sorted(changed) == sorted(pm.merged)
    pm.restore()
    for name, param in tiny_llama.named_parameters():
        assert torch.equal(param, start[name]), name


def test_model_for_refuses_a_bad_preference_and_keeps_the_weights(tiny_llama):
    pm = _trained_like(ParetoMergedModel(tiny_llama, ["a", "b"], TARGETS, rank=2))
    pm.model_for([0.5, 0.5])
    before = {n: p.detach().clone() for n, p in tiny_llama.named_parameters()}
    for bad, message in (([1.0], "has 1 weights"), ([1.0, -1.0], "negative"), ([0, 0], "sum to zero")):
        with pytest.raises(MergeError, match=message):
            pm.model_for(bad)
    for name, param in tiny_llama.named_parameters():
        assert torch.equal(param, before[name]), name


def test_export_writes_a_checkpoint_of_the_preference(tiny_llama, tmp_path):
    pm = _trained_like(ParetoMergedModel(tiny_llama, ["a", "b"], TARGETS, rank=2))
    out = pm.export({"a": 0.25, "b": 0.75}, tmp_path / "ckpt")
    loaded = AutoModelForCausalLM.from_pretrained(out).eval()
    ids, mask = _inputs()
    with torch.no_grad():
        want = pm.logits(torch.tensor([0.25, 0.75]), ids, mask)
        got = loaded(input_ids=ids, attention_mask=mask).logits
    assert torch.allclose(got, want, atol=1e-5)
    meta = json.loads((out / "pareto_merging.json").read_text())
    assert meta["preference"] == {"a": 0.25, "b": 0.75}
    assert meta["extra_parameters"] == pm.num_extra_parameters


def test_saved_correction_reproduces_every_preference(tiny_llama, tmp_path):
    pm = _trained_like(ParetoMergedModel(tiny_llama, ["a", "b"], TARGETS, rank=2))
    path = pm.save_correction(tmp_path)
    fresh = ParetoMergedModel(tiny_llama, ["a", "b"], TARGETS, rank=2, seed=99)
    fresh.load_correction(path)
    for p in (torch.tensor([1.0, 0.0]), torch.tensor([0.3, 0.7])):
        for name, weight in pm.weights_for(p).items():
            assert torch.allclose(fresh.weights_for(p)[name], weight), name
    other_rank = ParetoMergedModel(tiny_llama, ["a", "b"], TARGETS, rank=3)
    with pytest.raises(ConfigError, match="shapes do not match"):
        other_rank.load_correction(path)


def test_parameter_budget_is_counted_and_enforced(tiny_llama):
    pm = ParetoMergedModel(tiny_llama, ["a", "b"], TARGETS, rank=2)
    per_matrix = {"down": 2 * (32 + 64) + 2 * 2 * 2, "o": 2 * (32 + 32) + 2 * 2 * 2}
    assert pm.num_extra_parameters == 2 * per_matrix["down"] + 2 * per_matrix["o"]
    assert pm.num_model_parameters == sum(p.numel() for p in tiny_llama.parameters())
    pm.check_budget(0.05)
    with pytest.raises(ConfigError, match=r"rank 2 on targets .* adds 672 parameters"):
        pm.check_budget(0.001)
    vectors = _task_vectors(tiny_llama)
    scaled = ParetoMergedModel(tiny_llama, ["a", "b"], TARGETS, rank=2, task_vectors=vectors)
    assert scaled.num_extra_parameters == 672 + 4 * (3 * 2)  # J x K per matrix
    with pytest.raises(ConfigError, match=r"rank 2 with task scaling over 3 sources .* adds 696"):
        scaled.check_budget(0.001)


def test_needs_two_distinct_tasks(tiny_llama):
    with pytest.raises(ConfigError, match="two distinct task names"):
        ParetoMergedModel(tiny_llama, ["a"], TARGETS)
    with pytest.raises(ConfigError, match="two distinct task names"):
        ParetoMergedModel(tiny_llama, ["a", "a"], TARGETS)


def test_task_scaling_moves_weights_along_the_task_vectors(tiny_llama, tmp_path):
    vectors = _task_vectors(tiny_llama)
    pm = ParetoMergedModel(tiny_llama, ["a", "b"], TARGETS, rank=2, task_vectors=vectors)
    name = "model.layers.1.mlp.down_proj.weight"
    p = torch.tensor([0.25, 0.75])
    assert torch.equal(pm.weights_for(p)[name], pm.merged[name])
    with torch.no_grad():
        pm.scaling.S["model__layers__1__mlp__down_proj__weight"].copy_(
            torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
        )
    want = pm.merged[name] + 0.25 * vectors["x"][name] + 1.5 * vectors["y"][name]
    assert torch.allclose(pm.weights_for(p)[name], want, atol=1e-6)
    # Saved and loaded with the low-rank factors.
    path = pm.save_correction(tmp_path)
    fresh = ParetoMergedModel(tiny_llama, ["a", "b"], TARGETS, rank=2, task_vectors=vectors)
    fresh.load_correction(path)
    assert torch.allclose(fresh.weights_for(p)[name], want, atol=1e-6)
    plain = ParetoMergedModel(tiny_llama, ["a", "b"], TARGETS, rank=2)
    with pytest.raises(ConfigError, match="do not match this model's targets"):
        plain.load_correction(path)


def test_task_vectors_must_cover_the_targets(tiny_llama):
    vectors = _task_vectors(tiny_llama)
    del vectors["y"]["model.layers.0.mlp.down_proj.weight"]
    message = r"sources \['y'\] lack tensor 'model.layers.0.mlp.down_proj.weight'"
    with pytest.raises(ConfigError, match=message):
        ParetoMergedModel(tiny_llama, ["a", "b"], TARGETS, task_vectors=vectors)


def test_largest_rank_fits_the_budget(tiny_llama):
    from mmmo.pareto_merging.merged import largest_rank

    total = sum(p.numel() for p in tiny_llama.parameters())  # 23200
    for fraction in (0.02, 0.05, 0.1):
        rank = largest_rank(tiny_llama, TARGETS, 2, 3, fraction)
        vectors = _task_vectors(tiny_llama)
        fits = ParetoMergedModel(tiny_llama, ["a", "b"], TARGETS, rank=rank, task_vectors=vectors)
        assert fits.num_extra_parameters <= fraction * total
        bigger = ParetoMergedModel(tiny_llama, ["a", "b"], TARGETS, rank=rank + 1, task_vectors=vectors)
        assert bigger.num_extra_parameters > fraction * total
    with pytest.raises(ConfigError, match="even rank 1 adds more than 0.10%"):
        largest_rank(tiny_llama, TARGETS, 2, 3, 0.001)
