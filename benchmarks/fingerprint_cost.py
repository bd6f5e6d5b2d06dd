"""Seconds to fingerprint a Llama-3-8B-shaped checkpoint (base + sources), as a campaign does
at creation and on every resume and export.

The checkpoint is written as sparse files: real safetensors headers (the
tensor names, dtypes and shapes of Llama-3-8B in bf16, four shards, 16 GB
described) over holes, so the benchmark needs no 16 GB of disk and shows that
a fingerprint reads headers and file metadata only, never the weights.

    python benchmarks/fingerprint_cost.py [--sources 3] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import struct
import tempfile
import time
from pathlib import Path

# Llama-3-8B: 32 layers, hidden 4096, MLP 14336, 8 KV heads of 128, vocab 128256.
LAYERS, HIDDEN, MLP, KV, VOCAB = 32, 4096, 14336, 1024, 128256


def llama8b_tensors() -> list[tuple[str, list[int]]]:
    tensors = [("model.embed_tokens.weight", [VOCAB, HIDDEN])]
    for i in range(LAYERS):
        p = f"model.layers.{i}"
        tensors += [
            (f"{p}.self_attn.q_proj.weight", [HIDDEN, HIDDEN]),
            (f"{p}.self_attn.k_proj.weight", [KV, HIDDEN]),
            (f"{p}.self_attn.v_proj.weight", [KV, HIDDEN]),
            (f"{p}.self_attn.o_proj.weight", [HIDDEN, HIDDEN]),
            (f"{p}.mlp.gate_proj.weight", [MLP, HIDDEN]),
            (f"{p}.mlp.up_proj.weight", [MLP, HIDDEN]),
            (f"{p}.mlp.down_proj.weight", [HIDDEN, MLP]),
            (f"{p}.input_layernorm.weight", [HIDDEN]),
            (f"{p}.post_attention_layernorm.weight", [HIDDEN]),
        ]
    return tensors + [("model.norm.weight", [HIDDEN]), ("lm_head.weight", [VOCAB, HIDDEN])]


def write_sparse_checkpoint(folder: Path, shards: int = 4) -> int:
    """Write the checkpoint's shards (holes for data) and index; returns the bytes described."""
    folder.mkdir(parents=True)
    tensors = llama8b_tensors()
    per_shard = -(-len(tensors) // shards)
    weight_map, total = {}, 0
    for s in range(shards):
        name = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        header, offset = {"__metadata__": {"format": "pt"}}, 0
        for tensor, shape in tensors[s * per_shard:(s + 1) * per_shard]:
            size = 2 * math.prod(shape)  # bf16
            header[tensor] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
            offset += size
            weight_map[tensor] = name
        raw = json.dumps(header).encode()
        raw += b" " * (-len(raw) % 8)
        with open(folder / name, "wb") as handle:
            handle.write(struct.pack("<Q", len(raw)) + raw)
            handle.truncate(8 + len(raw) + offset)  # a hole: no disk used
        total += 8 + len(raw) + offset
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "num_hidden_layers": LAYERS}))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from mmmo.fingerprints import fingerprint_models

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        described = write_sparse_checkpoint(root / "base")
        sources = {}
        for k in range(args.sources):
            write_sparse_checkpoint(root / f"source{k}")
            sources[f"source{k}"] = root / f"source{k}"
        seconds = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            prints = fingerprint_models(root / "base", sources)
            seconds.append(time.perf_counter() - start)
        files = sum(len(p["files"]) for p in prints.values())
    models = 1 + args.sources
    median = statistics.median(seconds)
    print(f"{models} Llama-3-8B-shaped checkpoints ({described / 1e9:.1f} GB each described, {files} files): "
          f"fingerprint in {median * 1000:.1f} ms (median of {args.repeats}; min {min(seconds) * 1000:.1f} ms)")
    print(json.dumps({"benchmark": "fingerprint_cost", "models": models, "bytes_per_model": described,
                      "files": files, "median_seconds": round(median, 5), "min_seconds": round(min(seconds), 5)}))


if __name__ == "__main__":
    main()
