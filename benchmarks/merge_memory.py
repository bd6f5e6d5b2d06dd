"""Extra memory one merge needs beside the pool and the live model, in units of the largest tensor.

A synthetic Llama in bfloat16 (by default hidden 1024, 4 layers, intermediate
2816, vocabulary 32000, untied: the embedding and the head, 32.8M entries
each, are the largest tensors), base + 3 sources, is loaded as a bfloat16
pool. For each merge path and method it measures the peak memory of a merge
above the memory held before the path's first merge (so work buffers a merge
keeps for the next one count too):

- ``first``: the method's first merge (TIES builds its magnitude indexes then);
- ``steady``: a later merge of the same plan.

Paths:

- ``cpu``: the default CPU merger (the C kernel on 2^16-entry chunks);
- ``budget``: the torch path with the chunk a GPU merger uses (all work
  buffers within one largest tensor's bytes), run on the CPU: the same ops and
  buffers a GPU merge allocates, measured as resident memory;
- ``cuda`` (with ``--device cuda``): the GPU merger itself, measured with
  ``torch.cuda.max_memory_allocated``.

CPU memory is the process's peak resident set (VmHWM, reset through
``/proc/self/clear_refs`` before each merge) less its resident set before the
path's first merge. The target is under 2x the largest tensor.

Prints a table and, as the last line, a JSON object.

    python benchmarks/merge_memory.py [--hidden 1024] [--layers 4] [--vocab 32000] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from mmmo.merge import Merger, native
from mmmo.merge.base import budget_chunk
from mmmo.merge.merger import release_free_memory
from mmmo.plan import MergePlan
from mmmo.sources import ModelPool

METHODS = {
    "task_arithmetic": {"weight": [0.5, 0.3, 0.2]},
    "ties": {"weight": [0.5, 0.3, 0.2], "density": 0.5},
    "dare_ties": {"weight": [0.5, 0.3, 0.2], "density": 0.5},
    "dare_linear": {"weight": [0.5, 0.3, 0.2], "density": 0.5},
    "breadcrumbs": {"weight": [0.5, 0.3, 0.2], "density": 0.5},
}


def _rss_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def build_checkpoints(root: Path, hidden: int, layers: int, vocab: int) -> tuple[Path, dict[str, Path]]:
    """Base + 3 sources (base + 1% Gaussian noise), bfloat16 safetensors, without building the model in float32."""
    from safetensors.torch import save_file
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=hidden * 11 // 4,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 64),
        num_key_value_heads=max(1, hidden // 64),
        tie_word_embeddings=False,
        dtype="bfloat16",
    )
    with torch.device("meta"):
        shapes = {n: p.shape for n, p in LlamaForCausalLM(config).named_parameters()}
    generator = torch.Generator().manual_seed(0)
    base = {n: (torch.randn(s, generator=generator) * 0.02).bfloat16() for n, s in shapes.items()}
    paths = {}
    for name in ("base", "s0", "s1", "s2"):
        state = base if name == "base" else {
            n: (t.float() * (1 + 0.01 * torch.randn(t.shape, generator=generator))).bfloat16() for n, t in base.items()
        }
        (root / name).mkdir()
        save_file(state, str(root / name / "model.safetensors"), metadata={"format": "pt"})
        config.save_pretrained(root / name)
        paths[name] = root / name
        del state
    return paths.pop("base"), paths


def measure(pool: ModelPool, plan: MergePlan, chunk: int | None, device: str) -> dict[str, int]:
    """Peak bytes of a fresh merger's first and a later merge of ``plan``, above what it held before."""
    merger = Merger(pool, device=device, chunk=chunk)
    merger.apply_base()
    cuda = device == "cuda"
    release_free_memory()
    if cuda:
        torch.cuda.synchronize()
        held = torch.cuda.memory_allocated()
    else:
        held = _rss_bytes("VmRSS")
    peaks = {}
    for phase in ("first", "steady"):
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        else:
            _reset_peak_rss()
        merger.apply(plan)
        peaks[phase] = (torch.cuda.max_memory_allocated() if cuda else _rss_bytes("VmHWM")) - held
    del merger
    release_free_memory()
    return peaks


def run_paths(pool: ModelPool, device: str) -> tuple[int, int, dict[str, dict[str, dict[str, int]]]]:
    """Largest tensor bytes, the budget chunk, and each path's measurements."""
    largest = max(t.numel() * t.element_size() for t in pool.base_state.values())
    chunk = budget_chunk(largest, len(pool.names))
    plans = {m: MergePlan.uniform(m, pool.names, seed=3, **fields) for m, fields in METHODS.items()}
    results: dict[str, dict[str, dict[str, int]]] = {"cpu": {}, "budget": {}}
    for method, plan in plans.items():
        results["cpu"][method] = measure(pool, plan, None, "cpu")
    # The torch path with a GPU merger's chunk, on the CPU.
    available = native.available
    native.available = lambda: False  # type: ignore[assignment]
    try:
        for method, plan in plans.items():
            results["budget"][method] = measure(pool, plan, chunk, "cpu")
    finally:
        native.available = available  # type: ignore[assignment]
    if device == "cuda":
        results["cuda"] = {method: measure(pool, plan, None, "cuda") for method, plan in plans.items()}
    return largest, chunk, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as tmp:
        base_path, source_paths = build_checkpoints(Path(tmp), args.hidden, args.layers, args.vocab)
        pool = ModelPool.load(base_path, source_paths, dtype=torch.bfloat16)
        largest, chunk, results = run_paths(pool, args.device)
    print(f"pool: bfloat16, {pool.model_bytes / 2**20:.0f} MiB per model, base + {len(pool.names)} sources; "
          f"largest tensor {largest / 2**20:.1f} MiB; budget chunk {chunk} entries")
    print("extra memory of one merge, in largest tensors (target < 2):")
    print(f"{'path':<8}{'method':<17}{'first':>8}{'steady':>8}")
    summary: dict[str, object] = {"largest_tensor_mib": round(largest / 2**20, 2), "budget_chunk": chunk}
    for path, per_method in results.items():
        for method, peaks in per_method.items():
            first, steady = peaks["first"] / largest, peaks["steady"] / largest
            print(f"{path:<8}{method:<17}{first:>8.2f}{steady:>8.2f}")
            summary[f"{path}/{method}"] = {"first": round(first, 3), "steady": round(steady, 3)}
    summary["worst_steady"] = round(max(p["steady"] for r in results.values() for p in r.values()) / largest, 3)
    summary["worst_first"] = round(max(p["first"] for r in results.values() for p in r.values()) / largest, 3)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
