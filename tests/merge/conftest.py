"""Tiny random Llama checkpoints for merge-engine tests (built once per session)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

EXPERTS = ("alpha", "beta", "gamma")


@dataclass(frozen=True)
class TinyModels:
    base: Path
    experts: dict[str, Path]
    sharded: Path  # a copy of expert "alpha" saved in several shards
    adapter: Path  # a PEFT LoRA adapter on the base
    tied_base: Path
    tied_expert: Path


def tiny_config(tied: bool = False) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=48,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        tie_word_embeddings=tied,
    )


def perturbed(model: LlamaForCausalLM, seed: int, scale: float = 0.02) -> LlamaForCausalLM:
    """A copy of ``model`` with every parameter moved by scaled Gaussian noise."""
    other = LlamaForCausalLM(model.config)
    other.load_state_dict(model.state_dict())
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in other.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * scale)
    return other


def _save_tokenizer(out: Path, vocab_size: int) -> None:
    """A word-level tokenizer, so checkpoints carry one as real ones do."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, **{f"w{i}": i for i in range(1, vocab_size)}}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="<unk>")), unk_token="<unk>"
    )
    tokenizer.save_pretrained(str(out))


def _lora_adapter(base: LlamaForCausalLM, out: Path) -> None:
    from peft import LoraConfig, get_peft_model

    model = LlamaForCausalLM(base.config)
    model.load_state_dict(base.state_dict())
    peft_model = get_peft_model(
        model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], lora_dropout=0.0)
    )
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.1)
    peft_model.save_pretrained(str(out))


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    root = tmp_path_factory.mktemp("tiny_models")
    torch.manual_seed(0)
    base = LlamaForCausalLM(tiny_config())
    base.save_pretrained(root / "base")
    _save_tokenizer(root / "base", base.config.vocab_size)
    experts = {}
    for i, name in enumerate(EXPERTS):
        expert = perturbed(base, seed=100 + i)
        expert.save_pretrained(root / name)
        experts[name] = root / name
        if name == "alpha":
            expert.save_pretrained(root / "alpha_sharded", max_shard_size="8KB")
    _lora_adapter(base, root / "adapter")
    torch.manual_seed(1)
    tied = LlamaForCausalLM(tiny_config(tied=True))
    tied.save_pretrained(root / "tied_base")
    perturbed(tied, seed=200).save_pretrained(root / "tied_expert")
    return TinyModels(
        base=root / "base",
        experts=experts,
        sharded=root / "alpha_sharded",
        adapter=root / "adapter",
        tied_base=root / "tied_base",
        tied_expert=root / "tied_expert",
    )


@pytest.fixture(scope="session", params=["resident", "mmap"])
def tiny_pool(tiny_models: TinyModels, request):
    """The tiny pool in each task-vector storage: every merge test runs on both."""
    from mmmo.sources import ModelPool

    return ModelPool.load(tiny_models.base, tiny_models.experts, storage=request.param)


@pytest.fixture(scope="session")
def tiny_merger(tiny_pool):
    from mmmo.merge import Merger

    return Merger(tiny_pool)


def live_state(merger) -> dict[str, torch.Tensor]:
    """A detached copy of the live model's merged tensors."""
    return {name: merger.model.get_parameter(name).detach().clone() for name in merger.pool.tensor_names}


def mergekit_merge(config: dict, out_dir: Path, seed: int | None = None) -> dict[str, torch.Tensor]:
    """Run mergekit in-process on ``config``; return its merged tensors."""
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions
    from safetensors.torch import load_file

    options = MergeOptions(quiet=True, copy_tokenizer=False, write_model_card=False, random_seed=seed)
    run_merge(MergeConfiguration.model_validate(config), str(out_dir), options)
    state = {}
    for file in sorted(out_dir.glob("*.safetensors")):
        state.update(load_file(str(file)))
    return state


def tied_magnitudes(pool, name: str) -> torch.Tensor:
    """Entries of tensor ``name`` whose task-vector magnitude repeats within a source.

    A magnitude cut that falls between equal magnitudes keeps all of them in
    mmmo (a threshold) and an arbitrary subset in mergekit (``torch.sort`` is
    not stable), so the two merges may differ there and only there.
    """
    tied = torch.zeros(pool.base_state[name].shape, dtype=torch.bool)
    for source in pool.names:
        magnitude = pool.delta(source)[name].abs()
        values, counts = torch.unique(magnitude, return_counts=True)
        # Zeros add nothing whether kept or dropped (untrained embedding rows are all zero).
        tied |= torch.isin(magnitude, values[(counts > 1) & (values > 0)])
    return tied


def assert_mergekit_parity(merger, plan, out_dir: Path, atol: float = 1e-6) -> None:
    """mmmo's merge of ``plan`` equals mergekit's merge of the equivalent config.

    For methods that rank entries by magnitude, entries with tied magnitudes
    are left out of the comparison (see :func:`tied_magnitudes`); they must be
    rare, or the comparison would say little.
    """
    from mmmo.merge.methods import get_method
    from mmmo.merge.mergekit_config import mergekit_config

    pool = merger.pool
    theirs = mergekit_merge(mergekit_config(plan, pool.base_path, pool.source_paths, layout=pool.layout), out_dir)
    merger.apply(plan)
    ours = live_state(merger)
    assert set(ours) <= set(theirs)
    ranks_magnitudes = get_method(plan.method).uses_magnitudes
    compared_entries = total_entries = 0
    for name, tensor in ours.items():
        compared = ~tied_magnitudes(pool, name) if ranks_magnitudes else torch.ones_like(tensor, dtype=torch.bool)
        compared_entries += int(compared.sum())
        total_entries += tensor.numel()
        torch.testing.assert_close(
            tensor[compared], theirs[name][compared], atol=atol, rtol=1e-5, msg=lambda m: f"{name}: {m}"
        )
    assert compared_entries > 0.99 * total_entries, f"only {compared_entries} of {total_entries} entries compared"


def random_merge_statistics(merged: dict, pool, sources) -> tuple[float, float]:
    """(fraction of entries changed, projection of the merged delta on sum of task vectors).

    Both are what a random merge keeps in expectation: the keep rate, and the
    merged delta's mean size along the task vectors.
    """
    changed = total = 0
    dot = norm = 0.0
    for name, base in pool.base_state.items():
        delta = merged[name] - base
        reference = sum(pool.delta(s)[name] for s in sources)
        changed += int((delta != 0).sum())
        total += delta.numel()
        dot += float((delta.double() * reference.double()).sum())
        norm += float((reference.double() ** 2).sum())
    return changed / total, dot / norm


@pytest.fixture(scope="session")
def mergekit_parity():
    """``assert_mergekit_parity(merger, plan, out_dir)``."""
    return assert_mergekit_parity


@pytest.fixture(scope="session")
def mergekit_runner():
    """``mergekit_merge(config, out_dir, seed=None) -> state``."""
    return mergekit_merge


@pytest.fixture(scope="session")
def live():
    """``live_state(merger) -> state``."""
    return live_state


@pytest.fixture(scope="session")
def random_stats():
    """``random_merge_statistics(merged, pool, sources) -> (keep rate, projection)``."""
    return random_merge_statistics
