import pytest
import torch

from mmmo.errors import MergeError
from mmmo.merge import Merger
from mmmo.plan import MergePlan, SourceParams, TensorGrouping


def test_apply_writes_into_the_live_parameters_in_place(tiny_merger):
    param = tiny_merger.model.get_parameter("model.layers.0.mlp.up_proj.weight")
    pointer = param.data_ptr()
    seconds = tiny_merger.apply(MergePlan.uniform("ties", tiny_merger.pool.names, density=0.5))
    assert seconds > 0
    assert tiny_merger.model.get_parameter("model.layers.0.mlp.up_proj.weight").data_ptr() == pointer
    assert not tiny_merger.model.training


def test_apply_base_and_apply_source(tiny_merger, live):
    pool = tiny_merger.pool
    tiny_merger.apply_source("beta")
    for name, tensor in live(tiny_merger).items():
        torch.testing.assert_close(tensor, pool.base_state[name] + pool.delta("beta")[name])
    tiny_merger.apply_base()
    for name, tensor in live(tiny_merger).items():
        assert torch.equal(tensor, pool.base_state[name])
    with pytest.raises(MergeError, match="unknown source 'delta'"):
        tiny_merger.apply_source("delta")


def test_live_model_matches_source_checkpoint_outputs(tiny_merger, tiny_models):
    from transformers import AutoModelForCausalLM

    reference = AutoModelForCausalLM.from_pretrained(tiny_models.experts["gamma"]).eval()
    tiny_merger.apply_source("gamma")
    ids = torch.tensor([[1, 5, 9, 3]])
    with torch.no_grad():
        torch.testing.assert_close(tiny_merger.model(ids).logits, reference(ids).logits, atol=1e-5, rtol=1e-5)


def test_per_group_parameters_apply_to_their_tensors(tiny_merger, live):
    pool = tiny_merger.pool
    grouping = TensorGrouping("blocks", num_layers=2, blocks=2)
    one = (SourceParams(1.0), SourceParams(0.0), SourceParams(0.0))
    two = (SourceParams(0.0), SourceParams(2.0), SourceParams(0.0))
    zero = tuple(SourceParams(0.0) for _ in range(3))
    plan = MergePlan(
        "task_arithmetic", pool.names, {"embed": zero, "block0": one, "block1": two, "head": zero}, grouping
    )
    tiny_merger.apply(plan)
    merged = live(tiny_merger)
    a, b = "model.layers.0.mlp.up_proj.weight", "model.layers.1.mlp.up_proj.weight"
    torch.testing.assert_close(merged[a], pool.base_state[a] + pool.delta("alpha")[a])
    torch.testing.assert_close(merged[b], pool.base_state[b] + 2 * pool.delta("beta")[b])
    assert torch.equal(merged["lm_head.weight"], pool.base_state["lm_head.weight"])


def test_chunk_size_does_not_change_deterministic_results(tiny_pool, tiny_merger, live):
    plan = MergePlan.uniform("ties", tiny_pool.names, weight=[1.0, 0.3, 0.6], density=[0.3, 0.6, 0.9])
    small = Merger(tiny_pool, chunk=100)
    small.apply(plan)
    tiny_merger.apply(plan)
    expected = live(tiny_merger)
    for name, tensor in live(small).items():
        torch.testing.assert_close(tensor, expected[name])


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (MergePlan.uniform("frankenmerge", ("alpha",)), "unknown merge method 'frankenmerge'"),
        (MergePlan.uniform("ties", ("alpha", "omega")), "plan names source 'omega'"),
        (MergePlan.uniform("ties", ("alpha",), options={"rescale": True}), "'ties' has no option 'rescale'"),
        (MergePlan.uniform("ties", ("alpha",), options={"lambda": "big"}), "must be a finite number"),
        (MergePlan.uniform("dare_ties", ("alpha",), options={"normalize": 1.0}), "must be true or false"),
        (MergePlan.uniform("ties", ("alpha", "alpha")), "lists a source twice"),
        (
            MergePlan(
                "ties",
                ("alpha",),
                {g: (SourceParams(1.0),) for g in TensorGrouping("blocks", 3, 1).group_names()},
                TensorGrouping("blocks", 3, 1),
            ),
            "groups 3 layers into blocks, the model has 2",
        ),
    ],
)
def test_bad_plans_are_refused_with_the_culprit_named(tiny_merger, plan, message):
    with pytest.raises(MergeError, match=message):
        tiny_merger.apply(plan)


def test_out_of_range_weights_and_densities_are_refused():
    with pytest.raises(MergeError, match="density must be in"):
        SourceParams(1.0, 1.5)
    with pytest.raises(MergeError, match="weight must be a finite number"):
        SourceParams(float("nan"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_merge_on_cuda_matches_cpu(tiny_pool, tiny_merger, live):
    plan = MergePlan.uniform("ties", tiny_pool.names, density=0.5)
    gpu = Merger(tiny_pool, device="cuda")
    gpu.apply(plan)
    tiny_merger.apply(plan)
    expected = live(tiny_merger)
    for name, tensor in live(gpu).items():
        torch.testing.assert_close(tensor.cpu(), expected[name])


def test_dare_masks_do_not_depend_on_the_chunk_size(tiny_pool, tiny_merger, live):
    plan = MergePlan.uniform("dare_ties", tiny_pool.names, weight=[1.0, 0.3, 0.6], density=0.4, seed=9)
    small = Merger(tiny_pool, chunk=128)
    small.apply(plan)
    tiny_merger.apply(plan)
    expected = live(tiny_merger)
    for name, tensor in live(small).items():
        torch.testing.assert_close(tensor, expected[name])


def test_merge_runs_on_its_own_thread_count_and_restores_torchs(tiny_pool):
    threads = torch.get_num_threads()
    merger = Merger(tiny_pool, threads=threads + 1)
    seen = []
    original = merger._merge

    def spy(*args):
        seen.append(torch.get_num_threads())
        original(*args)

    merger._merge = spy
    merger.apply(MergePlan.uniform("task_arithmetic", tiny_pool.names))
    assert seen == [threads + 1]
    assert torch.get_num_threads() == threads
    with pytest.raises(MergeError, match="threads must be at least 1, got 0"):
        Merger(tiny_pool, threads=0)


@pytest.fixture(scope="module")
def bfloat16_mergers(tiny_models):
    """A merger of a bfloat16 pool, and one of a float32 pool holding the same (widened) weights."""
    import dataclasses

    from mmmo.sources import ModelPool

    pool = ModelPool.load(tiny_models.base, tiny_models.experts, dtype=torch.bfloat16)
    wide = dataclasses.replace(
        pool,
        base_state={n: t.float() for n, t in pool.base_state.items()},
        _deltas={s: {n: t.float() for n, t in pool.delta(s).items()} for s in pool.names},
        dtype=torch.float32,
    )
    return Merger(pool), Merger(wide)


@pytest.mark.parametrize(
    ("method", "density", "options"),
    [
        ("linear", 1.0, {}),
        ("task_arithmetic", 1.0, {}),
        ("ties", 0.4, {}),
        ("dare_linear", 0.5, {}),
        ("dare_ties", 0.5, {}),
        ("della", 0.5, {}),
        ("breadcrumbs", 0.6, {"gamma": 0.05}),
        ("slerp", 1.0, {"t": 0.3}),
        ("model_stock", 1.0, {}),
    ],
)
def test_a_bfloat16_pool_merges_to_its_float32_merge_rounded(bfloat16_mergers, live, method, density, options):
    narrow, wide = bfloat16_mergers
    names = narrow.pool.names[:2] if method == "slerp" else narrow.pool.names
    plan = MergePlan.uniform(method, names, weight=[0.3 + 0.2 * i for i in range(len(names))], density=density,
                             options=options, seed=4)  # fmt: skip
    narrow.apply(plan)
    wide.apply(plan)
    expected = live(wide)
    changed = 0
    for name, tensor in live(narrow).items():
        assert tensor.dtype == torch.bfloat16, name
        assert torch.equal(tensor, expected[name].bfloat16()), name
        changed += int((tensor != narrow.pool.base_state[name]).sum())
    assert changed > 0
