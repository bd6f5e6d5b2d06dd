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


# -- storage, dtypes and the device budget -------------------------------------

from mmmo.merge.methods import METHODS  # noqa: E402
from mmmo.sources import ModelPool  # noqa: E402


def _plan(method: str, names) -> MergePlan:
    spec = METHODS[method]
    sources = tuple(names[:2]) if spec.max_sources == 2 else tuple(names)
    weights = [1.0, 0.3, 0.6, 0.8][: len(sources)]
    density = 0.5 if spec.uses_density else 1.0
    return MergePlan.uniform(method, sources, weight=weights, density=density, seed=5)


@pytest.fixture(scope="module", params=[torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
def pools_by_storage(tiny_models, request):
    sources = {**tiny_models.experts, "lora": tiny_models.adapter}
    return {
        storage: ModelPool.load(tiny_models.base, sources, dtype=request.param, storage=storage)
        for storage in ("resident", "mmap")
    }


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_merges_to_the_same_bits_in_every_storage(pools_by_storage, method, live):
    merged = {}
    for storage, pool in pools_by_storage.items():
        merger = Merger(pool)
        merger.apply(_plan(method, pool.names))
        merged[storage] = live(merger)
    # A budget on the CPU makes the reader copy what fits and stage the rest, as on a GPU.
    pool = pools_by_storage["mmap"]
    staged = Merger(pool, device_budget=pool.model_bytes)
    assert 0 < staged.reader.resident_bytes <= pool.model_bytes
    staged.apply(_plan(method, pool.names))
    assert staged.reader.streamed_parts > 0
    merged["staged"] = live(staged)
    for name, tensor in merged["resident"].items():
        assert tensor.dtype == pool.dtype and torch.isfinite(tensor).all()
        assert torch.equal(merged["mmap"][name], tensor), name
        assert torch.equal(merged["staged"][name], tensor), name


def test_16_bit_live_model_gets_the_float32_merge_rounded(tiny_models, live):
    sources = {**tiny_models.experts, "lora": tiny_models.adapter}
    wide = Merger(ModelPool.load(tiny_models.base, sources, storage="mmap"))
    narrow_pool = ModelPool.load(tiny_models.base, sources, dtype=torch.bfloat16, storage="mmap")
    narrow = Merger(narrow_pool)
    plan = MergePlan.uniform("task_arithmetic", narrow_pool.names, weight=0.4)
    wide.apply(plan)
    narrow.apply(plan)
    expected = live(wide)
    for name, tensor in live(narrow).items():
        assert tensor.dtype == torch.bfloat16
        # Same inputs rounded to bfloat16 first: within a bfloat16 rounding of the float32 merge.
        torch.testing.assert_close(tensor.float(), expected[name], atol=2e-3, rtol=1e-2)


def test_lora_source_merges_like_its_full_rank_update(tiny_models, live):
    pool = ModelPool.load(tiny_models.base, {"lora": tiny_models.adapter}, storage="mmap")
    merger = Merger(pool)
    merger.apply_source("lora")
    full = pool.delta("lora")
    for name, tensor in live(merger).items():
        torch.testing.assert_close(tensor, pool.base_state[name] + full[name])


def test_a_zero_budget_streams_every_tensor_and_still_merges_the_same(tiny_pool, tiny_merger, live):
    plan = MergePlan.uniform("ties", tiny_pool.names, density=0.4)
    streamed = Merger(tiny_pool, device_budget=0)
    assert streamed.reader.resident_bytes == 0
    streamed.apply(plan)  # the first trial of a trimming method also reads each source to index it
    streamed.reader.streamed_parts = 0
    streamed.apply(plan)
    assert streamed.reader.streamed_parts == len(tiny_pool.tensor_names) * (1 + len(tiny_pool.names))
    tiny_merger.apply(plan)
    expected = live(tiny_merger)
    for name, tensor in live(streamed).items():
        assert torch.equal(tensor, expected[name])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("budget", [0, None])
def test_cuda_merge_with_a_device_budget_matches_cpu(pools_by_storage, budget, live):
    for pool in pools_by_storage.values():
        plan = _plan("dare_ties", pool.names)
        gpu = Merger(pool, device="cuda", device_budget=budget)
        gpu.apply(plan)
        cpu = Merger(pool)
        cpu.apply(plan)
        expected = live(cpu)
        for name, tensor in live(gpu).items():
            torch.testing.assert_close(tensor.cpu(), expected[name])


@pytest.fixture(scope="module")
def bf16_checkpoints(tiny_models, tmp_path_factory):
    from transformers import AutoModelForCausalLM

    root = tmp_path_factory.mktemp("bf16")
    paths = {}
    for name, path in {"base": tiny_models.base, **tiny_models.experts}.items():
        AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16).save_pretrained(root / name)
        paths[name] = root / name
    return paths


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("storage", ["resident", "mmap"])
def test_a_bfloat16_merge_is_the_float32_merge_rounded(bf16_checkpoints, method, storage, live):
    """The same bfloat16 checkpoints merged into a float32 and a bfloat16 live model agree to the last bit."""
    sources = {k: v for k, v in bf16_checkpoints.items() if k != "base"}
    merged = {}
    for dtype in (torch.float32, torch.bfloat16):
        pool = ModelPool.load(bf16_checkpoints["base"], sources, dtype=dtype, storage=storage)
        merger = Merger(pool)
        merger.apply(_plan(method, pool.names))
        merged[dtype] = live(merger)
    for name, tensor in merged[torch.bfloat16].items():
        assert torch.equal(tensor, merged[torch.float32][name].to(torch.bfloat16)), name


# -- merging from 16-bit source weights ---------------------------------------


@pytest.mark.parametrize("method", ["task_arithmetic", "linear", "dare_linear", "dare_ties"])
@pytest.mark.parametrize("storage", ["resident", "mmap"])
@pytest.mark.parametrize("with_lora", [False, True], ids=["full", "with_lora"])
@pytest.mark.parametrize("normalize", [False, True], ids=["plain", "normalized"])
def test_a_merge_from_bfloat16_weights_equals_the_task_vector_path(
    tiny_models, method, storage, with_lora, normalize, live, monkeypatch
):
    import mmmo.merge.merger as merger_module
    from mmmo.merge import native

    if method != "linear" and not native.available():
        pytest.skip(f"no C compiler: {method} merges from task vectors")
    sources = {**tiny_models.experts, **({"lora": tiny_models.adapter} if with_lora else {})}
    pool = ModelPool.load(tiny_models.base, sources, dtype=torch.bfloat16, storage=storage)
    weights = [0.9, -0.4, 0.6, 1.3][: len(pool.names)]
    options = {"normalize": normalize, **({"lambda": 0.7} if method != "linear" else {})}
    # DARE: densities below 1 (one source kept whole) so the random masks take part.
    density = [0.5, 0.3, 1.0, 0.7][: len(pool.names)] if method.startswith("dare") else 1.0
    plan = MergePlan.uniform(method, pool.names, weight=weights, density=density, seed=2, options=options)
    fast = Merger(pool)
    fast.apply(plan)
    # Every tensor was merged from the weights (each has a full source).
    assert fast.from_weights_tensors == len(pool.tensor_names)
    monkeypatch.setattr(merger_module, "FROM_WEIGHTS", {})
    reference = Merger(pool)
    reference.apply(plan)
    assert reference.from_weights_tensors == 0
    expected = live(reference)
    for name, tensor in live(fast).items():
        assert tensor.dtype == torch.bfloat16
        assert torch.equal(tensor, expected[name]), name


def test_no_merge_from_weights_where_the_reader_must_move_tensors(tiny_models):
    pool = ModelPool.load(tiny_models.base, tiny_models.experts, dtype=torch.bfloat16, storage="mmap")
    staged = Merger(pool, device_budget=0)
    staged.apply(MergePlan.uniform("task_arithmetic", pool.names, weight=[0.5, 0.5, 0.5]))
    assert staged.from_weights_tensors == 0 and staged.reader.streamed_parts > 0
