"""Throughput of one candidate merge, against the machine's read ceiling and mergekit.

A synthetic Llama-shaped pool (about 100M float32 parameters per model, base +
3 sources, saved as HF checkpoints so mergekit can read them) is merged with
task_arithmetic, ties and dare_ties. In the same run it measures:

- the read ceiling: ``tensor.sum()`` over the same K + 1 tensors' bytes;
- mergekit 0.1.5's own in-process merge (``run_merge``) of the same plan;
- the process's peak resident memory (VmHWM, reset before each phase), less
  the resident memory before the pool was loaded (with the modules loading
  needs already imported, so code pages are not counted as model memory; the
  number of MiB that leaves over K + 2 model copies is printed), in three phases: loading the
  pool and the live model; the first trial of each method (which builds the
  magnitude indexes and scratch buffers once); and the timed merges.

Prints a table and, as the last line, a JSON object with per-method ``gbps``
(bytes of source tensors read per second), ``ratio_to_read_ceiling`` and
``speedup_vs_mergekit``.

    python benchmarks/merge_throughput.py [--layers 7] [--repeats 5] [--device cpu] [--threads N]

``--zoos`` measures instead the merge seconds of one trial on the built zoos,
as a campaign merges them: the demo zoo (full checkpoints of a tiny model) and
the real zoo (SmolLM2-135M-Instruct with three LoRA adapters, kept as their
factors and expanded one tensor at a time while it is merged). Per zoo and
method: the first trial (magnitude indexes, scratch buffers) and the median of
``--repeats`` trials; the last line is one JSON object ``{zoo: {method:
{"seconds", "first_seconds"}}}``.

    python benchmarks/merge_throughput.py --zoos --repeats 5 --threads 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from mmmo.merge import Merger
from mmmo.merge.merger import release_free_memory
from mmmo.merge.mergekit_config import mergekit_config
from mmmo.plan import MergePlan
from mmmo.sources import ModelPool

METHODS = {
    "task_arithmetic": {"weight": [0.5, 0.3, 0.2]},
    "ties": {"weight": [0.5, 0.3, 0.2], "density": 0.5},
    "dare_ties": {"weight": [0.5, 0.3, 0.2], "density": 0.5},
}


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def build_checkpoints(root: Path, layers: int) -> tuple[Path, dict[str, Path]]:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=8000,
        hidden_size=1024,
        intermediate_size=2816,
        num_hidden_layers=layers,
        num_attention_heads=16,
        num_key_value_heads=16,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.save_pretrained(root / "base")
    sources = {}
    generator = torch.Generator().manual_seed(1)
    base_state = {k: v.clone() for k, v in model.state_dict().items()}
    for name in ("s0", "s1", "s2"):
        with torch.no_grad():
            for key, param in model.named_parameters():
                param.copy_(base_state[key] + 0.01 * torch.randn(param.shape, generator=generator))
        model.save_pretrained(root / name)
        sources[name] = root / name
    return root / "base", sources


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_mergekit(config: dict, out_dir: Path) -> float:
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions

    options = MergeOptions(quiet=True, copy_tokenizer=False, write_model_card=False, random_seed=0)
    start = time.perf_counter()
    run_merge(MergeConfiguration.model_validate(config), str(out_dir), options)
    return time.perf_counter() - start


def zoo_pools() -> dict[str, tuple[Path, dict[str, Path], str]]:
    """Zoo name -> (base, sources, what the sources are), each zoo built or found in the cache."""
    from mmmo.realzoo import RealZooConfig, build_real_zoo
    from mmmo.zoo import ZooConfig, build_zoo

    demo = build_zoo(ZooConfig(), progress=False)
    real = build_real_zoo(RealZooConfig())
    return {
        "demo": (demo.base, {t: demo.experts[t] for t in demo.expert_tasks}, "full checkpoints"),
        "real": (real.base, {t: real.adapters[t] for t in real.expert_tasks}, "LoRA adapters (factors)"),
    }


def zoo_merge_seconds(repeats: int, device: str, threads: int | None) -> dict:
    """Merge seconds of one trial per zoo and method; prints a table and the JSON line."""
    figures: dict[str, dict] = {}
    print(f"{'zoo':<6}{'sources':<26}{'params':>9}{'method':>17}{'first s':>9}{'median s':>10}")
    for zoo, (base, sources, kind) in zoo_pools().items():
        pool = ModelPool.load(base, sources)
        merger = Merger(pool, device=device, threads=threads)
        params = pool.model_bytes / 4
        figures[zoo] = {"sources": kind, "parameters": int(params)}
        for method, options in METHODS.items():
            weights = options["weight"][: len(pool.names)]
            plan = MergePlan.uniform(method, pool.names, weights, options.get("density", 1.0), seed=3)
            first = merger.apply(plan)
            seconds = statistics.median(merger.apply(plan) for _ in range(repeats))
            figures[zoo][method] = {"seconds": round(seconds, 4), "first_seconds": round(first, 4)}
            print(f"{zoo:<6}{kind:<26}{params / 1e6:>8.1f}M{method:>17}{first:>9.3f}{seconds:>10.3f}")
        del merger, pool
    print(f"torch threads {torch.get_num_threads()}, device {device}, median of {repeats}")
    print(json.dumps(figures))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's; mmmo merges with Merger's)"
    )
    parser.add_argument("--skip-mergekit", action="store_true")
    parser.add_argument("--zoos", action="store_true",
                        help="merge seconds per trial on the demo and real zoos instead (see the module docs)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.zoos:
        zoo_merge_seconds(args.repeats, args.device, args.threads)
        return

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base_path, source_paths = build_checkpoints(root, args.layers)
        # Modules the load imports lazily, imported now: their code is not model memory.
        import transformers

        for name in ("AutoConfig", "AutoModelForCausalLM", "AutoTokenizer"):
            getattr(transformers, name)
        release_free_memory()
        rss_before_pool = _rss_kib("VmRSS")
        _reset_peak_rss()
        pool = ModelPool.load(base_path, source_paths)
        merger = Merger(pool, device=args.device, threads=args.threads)
        merger.apply_base()  # the live model's pages are now resident
        load_peak_kib = _rss_kib("VmHWM") - rss_before_pool
        resident_kib = _rss_kib("VmRSS") - rss_before_pool
        model_bytes = pool.model_bytes
        params = model_bytes // 4
        bytes_read = model_bytes * (1 + len(pool.names))

        tensors = list(pool.base_state.values()) + [t for s in pool.names for t in pool.delta(s).values()]

        def read_all() -> None:
            for tensor in tensors:
                tensor.sum()
            if merger.device.type == "cuda":
                torch.cuda.synchronize()

        read_all()
        ceiling_s = _median_seconds(read_all, args.repeats)
        ceiling_gbps = bytes_read / ceiling_s / 1e9

        plans = {m: MergePlan.uniform(m, pool.names, seed=3, **kw) for m, kw in METHODS.items()}
        _reset_peak_rss()
        first_seconds = {method: merger.apply(plan) for method, plan in plans.items()}  # indexes, scratch
        first_peak_kib = _rss_kib("VmHWM") - rss_before_pool
        _reset_peak_rss()
        results = {}
        for method, plan in plans.items():
            seconds = statistics.median(merger.apply(plan) for _ in range(args.repeats))
            results[method] = {"seconds": seconds, "gbps": bytes_read / seconds / 1e9}
        peak_kib = _rss_kib("VmHWM") - rss_before_pool
        peak_ratio = peak_kib * 1024 / model_bytes
        resident_ratio = resident_kib * 1024 / model_bytes

        for method, plan in plans.items():
            if args.skip_mergekit:
                results[method]["mergekit_seconds"] = float("nan")
                continue
            config = mergekit_config(plan, base_path, source_paths)
            results[method]["mergekit_seconds"] = run_mergekit(config, root / f"mergekit_{method}")

    print(f"pool: {params / 1e6:.1f}M float32 parameters per model, base + {len(pool.names)} sources, "
          f"{bytes_read / 1e9:.2f} GB read per merge, device {args.device}, "
          f"torch threads {torch.get_num_threads()}")
    print(f"read ceiling (tensor.sum over the same bytes): {ceiling_s * 1e3:.1f} ms, {ceiling_gbps:.1f} GB/s")
    sizes = lambda kib: kib * 1024 / model_bytes  # noqa: E731
    print(f"memory in model sizes (model {model_bytes / 2**20:.0f} MiB), above the process before loading: "
          f"peak while loading {sizes(load_peak_kib):.2f} x, resident after loading "
          f"(pool + live model) {resident_ratio:.2f} x")
    print("first trial of each method (builds magnitude indexes): "
          + ", ".join(f"{m} {s:.2f} s" for m, s in first_seconds.items())
          + f"; peak {sizes(first_peak_kib):.2f} x")
    floor_kib = (len(pool.names) + 2) * model_bytes / 1024  # base + K task vectors + live model
    print(f"peak while merging: {peak_kib / 2**20:.2f} GiB = {peak_ratio:.3f} x model size "
          f"(limit {len(pool.names) + 2} x; {(peak_kib - floor_kib) / 1024:+.1f} MiB beside base, "
          f"{len(pool.names)} task vectors and the live model)")
    print(f"{'method':<16}{'ms':>10}{'GB/s':>8}{'ratio':>8}{'mergekit s':>12}{'speedup':>9}")
    summary = {}
    for method, r in results.items():
        ratio = r["gbps"] / ceiling_gbps
        speedup = r["mergekit_seconds"] / r["seconds"]
        print(f"{method:<16}{r['seconds'] * 1e3:>10.1f}{r['gbps']:>8.2f}{ratio:>8.2f}"
              f"{r['mergekit_seconds']:>12.2f}{speedup:>9.1f}")
        summary[method] = {
            "gbps": round(r["gbps"], 3),
            "ratio_to_read_ceiling": round(ratio, 3),
            "speedup_vs_mergekit": round(speedup, 1),
        }
    summary["read_ceiling_gbps"] = round(ceiling_gbps, 3)
    summary["peak_memory_model_sizes"] = round(peak_ratio, 3)
    summary["peak_memory_first_trials_model_sizes"] = round(sizes(first_peak_kib), 3)
    summary["peak_memory_loading_model_sizes"] = round(sizes(load_peak_kib), 3)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
