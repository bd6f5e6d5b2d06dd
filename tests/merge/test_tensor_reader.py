import torch

from mmmo.merge.base import Scratch
from mmmo.merge.tensor_reader import TensorReader, plan_residency
from mmmo.sources import ModelPool


def test_device_residency_keeps_what_fits_in_merge_order():
    parts = [(("", "a", 0), 40), (("s", "a", 0), 40), (("", "b", 0), 30), (("s", "b", 0), 10)]
    assert plan_residency(parts, 100) == {("", "a", 0), ("s", "a", 0), ("s", "b", 0)}
    assert plan_residency(parts, 0) == set()
    assert plan_residency(parts, 120) == {key for key, _ in parts}


def test_untouched_tensors_of_a_lora_source_read_one_shared_zero_mapping(tiny_models):
    pool = ModelPool.load(tiny_models.base, {"lora": tiny_models.adapter}, storage="mmap")
    reader = TensorReader(pool.task_vectors, torch.device("cpu"), Scratch(torch.device("cpu")))
    pointers = set()
    for name in ("model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight", "lm_head.weight"):
        base, base_is_buffer, (delta,) = reader.read(name, ("lora",))
        assert not base_is_buffer and base.dtype == torch.float32  # float32 file: the mapped view itself
        assert delta.numel() == pool.task_vectors.shapes[name].numel() and not delta.any()
        pointers.add(delta.data_ptr())
    assert len(pointers) == 1
    _, _, (touched,) = reader.read("model.layers.1.self_attn.q_proj.weight", ("lora",))
    assert touched.abs().sum() > 0 and touched.data_ptr() not in pointers


def test_sixteen_bit_bases_are_converted_into_a_work_buffer(tiny_models):
    pool = ModelPool.load(tiny_models.base, tiny_models.experts, dtype=torch.bfloat16, storage="mmap")
    reader = TensorReader(pool.task_vectors, torch.device("cpu"), Scratch(torch.device("cpu")))
    name = "model.layers.0.mlp.up_proj.weight"
    base, base_is_buffer, deltas = reader.read(name, pool.names)
    assert base_is_buffer and base.dtype == torch.float32
    assert torch.equal(base, pool.base_state[name].float().reshape(-1))
    for source, delta in zip(pool.names, deltas):
        weights = pool.task_vectors.stored(source, name).tensor.float().reshape(-1)
        assert torch.equal(delta, weights - base)
