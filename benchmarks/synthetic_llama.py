"""Synthetic Llama pools for the scale benchmarks, built once and cached.

A base with random weights, three fine-tuned-like sources (the base plus
Gaussian noise of ``RELATIVE_DELTA`` times each tensor's scale) and one PEFT
LoRA adapter of rank 16 on the attention projections, all bfloat16 sharded
safetensors under ``<MMMO_CACHE>/benchmarks/synthetic_<size>``. Tensors are
generated one at a time and written shard by shard, so building needs about
one shard of memory, not a model. The base folder carries the zoo's
character tokenizer and a small exact-match data file, so a live model can be
evaluated.

    python benchmarks/synthetic_llama.py [--size 1b|small|tiny]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch

SIZES = {
    # About 0.95B parameters: TinyLlama's widths, 16 layers, full multi-head attention.
    "1b": dict(hidden_size=2048, num_hidden_layers=16, intermediate_size=5632, vocab_size=32000, num_attention_heads=16),
    "small": dict(hidden_size=768, num_hidden_layers=8, intermediate_size=2048, vocab_size=32000, num_attention_heads=12),
    "tiny": dict(hidden_size=64, num_hidden_layers=2, intermediate_size=128, vocab_size=256, num_attention_heads=4),
}
SOURCES = ("src1", "src2", "src3")
ADAPTER = "lora"
RELATIVE_DELTA = 1e-3
LORA_RANK = 16
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
SHARD_BYTES = 1 << 30
DTYPE = torch.bfloat16
DONE = "complete.json"


@dataclass(frozen=True)
class SyntheticPool:
    root: Path
    base: Path
    sources: dict[str, Path]  # the full sources, then the adapter
    exact_match_data: Path
    parameters: int

    @property
    def full_sources(self) -> dict[str, Path]:
        return {k: v for k, v in self.sources.items() if k != ADAPTER}


def _config(size: str):
    from transformers import LlamaConfig

    from mmmo.zoo import build_tokenizer

    tokenizer = build_tokenizer()
    return LlamaConfig(
        **SIZES[size],
        max_position_embeddings=256,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        torch_dtype="bfloat16",
        architectures=["LlamaForCausalLM"],
    ), tokenizer


def _shapes(config) -> dict[str, torch.Size]:
    from transformers import LlamaForCausalLM

    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    return {name: p.shape for name, p in model.state_dict().items()}


def _write_sharded(out: Path, tensors, config) -> None:
    """Write ``(name, tensor)`` pairs as safetensors shards of about ``SHARD_BYTES``, with an index."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(out)
    shard: dict[str, torch.Tensor] = {}
    size = 0
    files: list[dict[str, torch.Tensor]] = []
    weight_map: dict[str, str] = {}
    total = 0

    def flush() -> None:
        nonlocal shard, size
        if shard:
            name = f"model-{len(files) + 1:05d}.safetensors"
            save_file(shard, str(out / name), metadata={"format": "pt"})
            weight_map.update({k: name for k in shard})
            files.append({})
            shard, size = {}, 0

    for name, tensor in tensors:
        nbytes = tensor.numel() * tensor.element_size()
        if size and size + nbytes > SHARD_BYTES:
            flush()
        shard[name] = tensor
        size += nbytes
        total += nbytes
    flush()
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))


def _base_tensors(shapes, generator):
    for name, shape in shapes.items():
        if name.endswith("norm.weight"):
            yield name, torch.ones(shape, dtype=DTYPE)
        else:
            yield name, (torch.randn(shape, generator=generator) * 0.02).to(DTYPE)


def _source_tensors(base_dir: Path, shapes, generator):
    from mmmo.sources.checkpoint import weight_files
    from mmmo.sources.mapped import MappedCheckpoint

    base = MappedCheckpoint(weight_files(base_dir, "base"), "base")
    for name in shapes:
        weight = base.tensor(name).float()
        scale = float(weight.std()) if weight.numel() > 1 and float(weight.std()) > 0 else float(weight.abs().mean())
        yield name, (weight + torch.randn(weight.shape, generator=generator) * (RELATIVE_DELTA * scale)).to(DTYPE)


def _write_adapter(out: Path, base_dir: Path, shapes, generator) -> None:
    from peft import LoraConfig
    from safetensors.torch import save_file

    config = LoraConfig(r=LORA_RANK, lora_alpha=2 * LORA_RANK, target_modules=list(LORA_TARGETS), lora_dropout=0.0)
    config.base_model_name_or_path = str(base_dir)
    config.save_pretrained(str(out))
    weights = {}
    for name, shape in shapes.items():
        module = name.removesuffix(".weight")
        if module.rsplit(".", 1)[-1] not in LORA_TARGETS:
            continue
        out_features, in_features = shape
        # B @ A * (alpha / r) has entries of about RELATIVE_DELTA * 0.02, as the full sources' deltas.
        a_scale = 0.01
        b_scale = RELATIVE_DELTA * 0.02 / (LORA_RANK**0.5 * a_scale * 2)
        weights[f"base_model.model.{module}.lora_A.weight"] = torch.randn(LORA_RANK, in_features, generator=generator) * a_scale
        weights[f"base_model.model.{module}.lora_B.weight"] = torch.randn(out_features, LORA_RANK, generator=generator) * b_scale
    save_file(weights, str(out / "adapter_model.safetensors"), metadata={"format": "pt"})


def _write_exact_match_data(path: Path, rows: int = 64) -> None:
    from mmmo.zoo.tokenizer import VOCABULARY

    generator = torch.Generator().manual_seed(3)
    letters = [c for c in VOCABULARY if c.isalpha()]
    lines = []
    for _ in range(rows):
        picks = torch.randint(len(letters), (6,), generator=generator).tolist()
        word = "".join(letters[i] for i in picks)
        lines.append(json.dumps({"prompt": f"{word}=", "answer": word[::-1][:3]}))
    path.write_text("\n".join(lines) + "\n")


def synthetic_pool(size: str, cache: Path | None = None, progress=print) -> SyntheticPool:
    """The cached synthetic pool of ``size`` (built on first use)."""
    from mmmo.cache import cache_dir

    root = (cache or cache_dir()) / "benchmarks" / f"synthetic_{size}"
    config, tokenizer = _config(size)
    shapes = _shapes(config)
    pool = SyntheticPool(
        root=root,
        base=root / "base",
        sources={**{s: root / s for s in SOURCES}, ADAPTER: root / ADAPTER},
        exact_match_data=root / "exact_match.jsonl",
        parameters=sum(s.numel() for s in shapes.values()),
    )
    if (root / DONE).is_file():
        return pool
    shutil.rmtree(root, ignore_errors=True)
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(0)
    progress(f"building the synthetic {size} pool ({pool.parameters / 1e9:.2f}B parameters) in {root}")
    _write_sharded(pool.base, _base_tensors(shapes, generator), config)
    tokenizer.save_pretrained(pool.base)
    for source in SOURCES:
        _write_sharded(pool.sources[source], _source_tensors(pool.base, shapes, generator), config)
        progress(f"  {source} written ({time.perf_counter() - start:.0f} s)")
    _write_adapter(pool.sources[ADAPTER], pool.base, shapes, generator)
    _write_exact_match_data(pool.exact_match_data)
    (root / DONE).write_text(json.dumps({"parameters": pool.parameters, "seconds": time.perf_counter() - start}))
    return pool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="1b")
    args = parser.parse_args()
    pool = synthetic_pool(args.size)
    print(json.dumps({"root": str(pool.root), "parameters": pool.parameters}))


if __name__ == "__main__":
    main()
