"""One command for a machine with a CUDA GPU: every merge method on the GPU, checked against the CPU.

The synthetic bfloat16 pool of ``benchmarks/synthetic_llama.py`` (1B
parameters by default; built once under the cache folder) is loaded, a live
model is put on the GPU with the pool's tensors kept there within a device
budget (the rest streamed from pinned host memory), and every merge method
merges on the GPU. Each result is compared, tensor by tensor, with the same
plan merged on the CPU: the same kept entries (entries that differ from the
base) and values within bfloat16 tolerance. DELLA draws its keep decisions
with torch's generator, whose streams differ between devices, so for it only
finiteness and the share of kept entries are compared.

Reports, per method, seconds per merge (median of two after a first merge),
peak GPU memory (``torch.cuda.max_memory_allocated``), and, once, exact-match
examples per second on the live model. Prints a table; the last line is one
JSON object; exits non-zero when a check fails.

    python benchmarks/gpu_check.py                       # on a CUDA machine, about 5 minutes
    python benchmarks/gpu_check.py --device cpu --tiny   # dry run of the same path on the CPU
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from synthetic_llama import synthetic_pool  # noqa: E402

# One bfloat16 rounding step either way (results are float32 merges rounded to bfloat16).
RTOL = 2.0**-7
ATOL = 1e-6
# Kept-entry agreement demanded of deterministic methods: a float32 sum in a
# different order may land on the other side of a bfloat16 rounding to the base.
MIN_AGREEMENT = 0.9999
RANDOM_STREAM_METHODS = {"della"}


def plan_for(method: str, sources: tuple[str, ...]):
    from mmmo.merge.methods import get_method
    from mmmo.plan import MergePlan

    spec = get_method(method)
    chosen = sources[:2] if spec.max_sources == 2 else sources
    weights = [0.5, 0.3, 0.4, 0.6][: len(chosen)]
    density = 0.5 if spec.uses_density else 1.0
    return MergePlan.uniform(method, chosen, weight=weights, density=density, seed=1)


def compare(device_merger, cpu_merger, base_state) -> dict:
    """Kept-entry agreement and worst value error of the device merge against the CPU merge."""
    agree = total = 0
    worst = 0.0
    finite = True
    kept_device = kept_cpu = 0
    for name in cpu_merger.pool.tensor_names:
        ours = device_merger.model.get_parameter(name).detach().to("cpu", torch.float32)
        theirs = cpu_merger.model.get_parameter(name).detach().float()
        base = base_state[name].float()
        kept_ours, kept_theirs = ours != base, theirs != base
        agree += int((kept_ours == kept_theirs).sum())
        total += ours.numel()
        kept_device += int(kept_ours.sum())
        kept_cpu += int(kept_theirs.sum())
        finite &= bool(torch.isfinite(ours).all())
        excess = (ours - theirs).abs() - (ATOL + RTOL * theirs.abs())
        worst = max(worst, float(excess.max()))
    return {
        "kept_agreement": agree / total,
        "kept_share_device": kept_device / total,
        "kept_share_cpu": kept_cpu / total,
        "within_tolerance": worst <= 0.0,
        "finite": finite,
    }


def exact_match_rate(merger, data: Path, tokenizer, base_state, limit: int) -> float:
    """Examples per second of a generative exact-match objective on the live model."""
    from mmmo.config import ObjectiveSpec
    from mmmo.objectives import build_objectives, evaluate_objectives

    spec = ObjectiveSpec(kind="exact_match", data=data, name="em", limit=limit, batch_size=32)
    objectives = build_objectives([spec], tokenizer, base_state)
    evaluate_objectives(objectives, merger.model, tokenizer)  # warm-up (kernels, caches)
    start = time.perf_counter()
    measurement = evaluate_objectives(objectives, merger.model, tokenizer)["em"]
    seconds = time.perf_counter() - start
    if not measurement.ok:
        raise RuntimeError(f"exact match failed on the live model: {measurement.error}")
    return limit / seconds


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--size", choices=("1b", "small", "tiny"), default="1b")
    parser.add_argument("--tiny", action="store_true", help="the tiny pool (same as --size tiny)")
    parser.add_argument("--storage", choices=("resident", "mmap", "auto"), default="resident")
    parser.add_argument("--budget-gib", type=float, default=None,
                        help="device memory for the pool's tensors (default: most of what is free)")
    parser.add_argument("--methods", nargs="+", default=None)
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--cpu-threads", type=int, default=os.cpu_count())
    args = parser.parse_args(argv)
    if args.tiny:
        args.size = "tiny"

    from mmmo.merge import Merger
    from mmmo.merge.methods import METHODS
    from mmmo.sources import ModelPool

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if cuda and not torch.cuda.is_available():
        parser.error("--device cuda, but torch sees no CUDA device (use --device cpu for a dry run)")
    start = time.perf_counter()
    pool_files = synthetic_pool(args.size, progress=lambda m: print(m, flush=True))
    pool = ModelPool.load(pool_files.base, pool_files.sources, dtype=torch.bfloat16, storage=args.storage)
    budget = None if args.budget_gib is None else int(args.budget_gib * 2**30)
    if not cuda and budget is None:
        budget = pool.model_bytes // 2  # the dry run: half kept, half staged, as on a small GPU
    on_device = Merger(pool, device=device, device_budget=budget)
    on_cpu = Merger(pool, threads=args.cpu_threads)
    print(f"pool {pool_files.parameters / 1e9:.3f}B parameters, storage {pool.storage}, "
          f"{on_device.reader.resident_bytes / 2**30:.2f} GiB of it kept on {device} "
          f"(setup {time.perf_counter() - start:.0f} s)", flush=True)

    methods = args.methods or sorted(METHODS)
    rows = {}
    failed = []
    base_state = pool.base_state
    for method in methods:
        plan = plan_for(method, pool.names)
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        on_device.apply(plan)  # first merge: indexes, work buffers
        seconds = statistics.median(on_device.apply(plan) for _ in range(2))
        peak = torch.cuda.max_memory_allocated(device) if cuda else None
        on_cpu.apply(plan)
        check = compare(on_device, on_cpu, base_state)
        if method in RANDOM_STREAM_METHODS:
            ok = check["finite"] and abs(check["kept_share_device"] - check["kept_share_cpu"]) < 0.01
        else:
            ok = check["finite"] and check["within_tolerance"] and check["kept_agreement"] >= MIN_AGREEMENT
        if not ok:
            failed.append(method)
        rows[method] = {"seconds": round(seconds, 4), "peak_device_gib": None if peak is None else round(peak / 2**30, 3),
                        **{k: (round(v, 6) if isinstance(v, float) else v) for k, v in check.items()}, "ok": ok}
        print(f"  {method}: {rows[method]}", flush=True)

    rate = exact_match_rate(on_device, pool_files.exact_match_data, pool.tokenizer, base_state, args.examples)
    print(f"\n{'method':<16}{'s/merge':>9}{'peak GiB':>10}{'kept agree':>12}{'in tol':>8}{'ok':>5}")
    for method, r in rows.items():
        peak = "-" if r["peak_device_gib"] is None else f"{r['peak_device_gib']:.2f}"
        print(f"{method:<16}{r['seconds']:>9.3f}{peak:>10}{r['kept_agreement']:>12.6f}"
              f"{str(r['within_tolerance']):>8}{str(r['ok']):>5}")
    print(f"exact match on the live model: {rate:.1f} examples/s; total {time.perf_counter() - start:.0f} s")
    summary = {"device": str(device), "size": args.size, "storage": pool.storage,
               "device_resident_gib": round(on_device.reader.resident_bytes / 2**30, 3),
               "streamed_parts": on_device.reader.streamed_parts,
               "methods": rows, "exact_match_examples_per_s": round(rate, 2), "failed": failed}
    print(json.dumps(summary))
    if failed:
        raise SystemExit(1)
    return summary


if __name__ == "__main__":
    main()
