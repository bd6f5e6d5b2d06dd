"""Seconds and memory of one candidate merge at 1B parameters, per storage mode, against mergekit.

The synthetic bfloat16 Llama pool of ``benchmarks/synthetic_llama.py`` (base,
three full sources and one LoRA rank-16 adapter; about 0.95B parameters per
model, built once under the cache folder) is merged with task_arithmetic,
ties and dare_ties in each task-vector storage mode. Each mode runs in its
own process, so its memory is its own; in it:

- seconds per candidate merge: the first merge of each method (``cold``: it
  builds magnitude indexes and work buffers, and an ``mmap`` pool reads the
  files the first time) and the median of ``--repeats`` later ones (``warm``);
  for the plan over all four sources and for the plan over the three full
  sources that mergekit also runs;
- peak anonymous memory (``Anonymous`` of ``/proc/self/smaps_rollup``, sampled
  every 20 ms, so page-cache pages of mapped files are not counted) and peak
  RSS (``VmHWM``), while loading and while merging, both less the process's
  anonymous memory and RSS after imports (the libraries are not model memory);
- alongside, mergekit 0.1.5's own in-process ``run_merge`` of the 3-source
  plan (float32 arithmetic, bfloat16 output, as mmmo), in a subprocess with a
  time limit (reported as ``> N s`` when it runs out), and the read ceiling:
  seconds to sum the bytes of the base and the three full sources
  (``(K + 1) x`` one model, K counting the full sources) from the page cache.

Results are appended to ``--out`` (one JSON line per measurement) as they come.
Prints a table; the last line is one JSON object.

    nohup python benchmarks/merge_scale.py [--small] [--out merge_scale.jsonl] > merge_scale.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from synthetic_llama import ADAPTER, SOURCES, synthetic_pool  # noqa: E402

METHODS = ("task_arithmetic", "ties", "dare_ties")
MODES = ("resident", "mmap")
WEIGHTS = (0.5, 0.3, 0.4, 0.6)
DENSITY = 0.5
TARGETS = {"mmap_anon_model_sizes": 1.5, "warm_mmap_over_resident": 3.0, "speedup_vs_mergekit": 5.0}


def plan_for(method: str, sources: tuple[str, ...]):
    from mmmo.merge.methods import get_method
    from mmmo.plan import MergePlan

    density = DENSITY if get_method(method).uses_density else 1.0
    return MergePlan.uniform(method, sources, weight=list(WEIGHTS[: len(sources)]), density=density, seed=1)


# -- memory of this process --------------------------------------------------


def anonymous_bytes() -> int:
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Anonymous:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no Anonymous in /proc/self/smaps_rollup")


def status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


class PeakSampler:
    """Samples anonymous memory in a thread; ``reset`` starts a new phase (VmHWM reset too)."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak = anonymous_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, anonymous_bytes())

    def reset(self) -> None:
        Path("/proc/self/clear_refs").write_text("5")
        self.peak = anonymous_bytes()

    def phase(self) -> tuple[int, int]:
        """(peak anonymous, peak RSS) since the last reset."""
        self.peak = max(self.peak, anonymous_bytes())
        return self.peak, status_bytes("VmHWM")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# -- one storage mode, in its own process ------------------------------------


def run_mode(size: str, mode: str, repeats: int, threads: int, methods: tuple[str, ...] = METHODS) -> dict:
    torch.set_num_threads(threads)
    import transformers

    from mmmo.merge import Merger
    from mmmo.merge.merger import release_free_memory
    from mmmo.sources import ModelPool

    for name in ("AutoConfig", "AutoModelForCausalLM", "AutoTokenizer", "LlamaForCausalLM"):
        getattr(transformers, name)
    import peft  # noqa: F401  (imported by adapters; code, not model memory)

    pool_files = synthetic_pool(size)
    release_free_memory()
    sampler = PeakSampler()
    sampler.reset()
    anon_before, rss_before = anonymous_bytes(), status_bytes("VmRSS")
    start = time.perf_counter()
    pool = ModelPool.load(pool_files.base, pool_files.sources, dtype=torch.bfloat16, storage=mode)
    merger = Merger(pool, threads=threads)
    merger.apply_base()
    load_seconds = time.perf_counter() - start
    load_anon, load_rss = sampler.phase()
    result = {
        "kind": "mode",
        "mode": pool.storage,
        "asked": mode,
        "model_bytes": pool.model_bytes,
        "load_seconds": load_seconds,
        "load_peak_anon": load_anon - anon_before,
        "load_peak_rss": load_rss - rss_before,
        "methods": {},
    }
    sampler.reset()
    full = tuple(s for s in pool.names if s != ADAPTER)
    for method in methods:
        row = {}
        for label, sources in (("all", pool.names), ("full", full)):
            plan = plan_for(method, sources)
            row[f"{label}_cold"] = merger.apply(plan)
            row[f"{label}_warm"] = statistics.median(merger.apply(plan) for _ in range(repeats))
        result["methods"][method] = row
        print(f"  {mode} {method}: {row}", file=sys.stderr, flush=True)
    merge_anon, merge_rss = sampler.phase()
    sampler.stop()
    result["merge_peak_anon"] = merge_anon - anon_before
    result["merge_peak_rss"] = merge_rss - rss_before
    result["baseline_anon"] = anon_before
    return result


def run_mergekit(size: str, method: str, threads: int) -> dict:
    torch.set_num_threads(threads)
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions

    from mmmo.merge.mergekit_config import mergekit_config

    pool_files = synthetic_pool(size)
    plan = plan_for(method, SOURCES)
    config = mergekit_config(plan, pool_files.base, pool_files.full_sources, dtype="float32")
    config["out_dtype"] = "bfloat16"
    options = MergeOptions(quiet=True, copy_tokenizer=False, write_model_card=False, random_seed=1, lazy_unpickle=True)
    with tempfile.TemporaryDirectory(dir=pool_files.root) as out:
        start = time.perf_counter()
        run_merge(MergeConfiguration.model_validate(config), out, options)
        seconds = time.perf_counter() - start
    return {"kind": "mergekit", "method": method, "seconds": seconds}


def read_ceiling(size: str, repeats: int) -> dict:
    """Seconds to sum the bytes of the base and the full sources, mapped, from a warm page cache."""
    from mmmo.sources.checkpoint import weight_files
    from mmmo.sources.mapped import MappedCheckpoint

    pool_files = synthetic_pool(size)
    checkpoints = [
        MappedCheckpoint(weight_files(p, "x"), "x") for p in (pool_files.base, *pool_files.full_sources.values())
    ]
    views = [c.tensor(n) for c in checkpoints for n in c.entries]
    nbytes = sum(v.numel() * v.element_size() for v in views)

    def read() -> float:
        start = time.perf_counter()
        for view in views:
            torch.sum(view, dtype=torch.float32)
        return time.perf_counter() - start

    read()  # warms the page cache
    return {"kind": "ceiling", "bytes": nbytes, "seconds": statistics.median(read() for _ in range(repeats))}


# -- the driver ----------------------------------------------------------------


def _child(args: argparse.Namespace, what: list[str], timeout: float | None) -> dict | None:
    command = [sys.executable, __file__, "--size", args.size, "--repeats", str(args.repeats),
               "--threads", str(args.threads), "--methods", *args.methods, "--child", *what]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None
    sys.stderr.write(done.stderr[-4000:] if done.returncode else "")
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(what)} failed with exit code {done.returncode}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _record(out: Path, row: dict) -> None:
    with out.open("a") as handle:
        handle.write(json.dumps(row) + "\n")


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f}"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("1b", "small", "tiny"), default="1b")
    parser.add_argument("--small", action="store_true", help="the ~100M-parameter pool (same as --size small)")
    parser.add_argument("--repeats", type=int, default=2, help="warm merges per method and plan (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads of mmmo and mergekit")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--mergekit-limit", type=float, default=300.0, help="seconds per mergekit merge")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS),
                        help="methods to measure, for mmmo and mergekit alike")
    parser.add_argument("--skip-mergekit", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("merge_scale.jsonl"))
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.small:
        args.size = "small"
    if args.child:
        kind, *rest = args.child
        if kind == "mode":
            row = run_mode(args.size, rest[0], args.repeats, args.threads, tuple(args.methods))
        elif kind == "mergekit":
            row = run_mergekit(args.size, rest[0], args.threads)
        else:
            row = read_ceiling(args.size, max(1, args.repeats))
        print(json.dumps(row))
        return row

    pool_files = synthetic_pool(args.size, progress=lambda m: print(m, flush=True))
    auto = auto_choice(pool_files)
    print(f"storage auto would choose {auto['mode']}: resident needs {_gib(auto['resident_bytes'])} GiB, "
          f"mmap {_gib(auto['mmap_bytes'])} GiB, {_gib(auto['available_bytes'])} GiB available now", flush=True)
    ceiling = _child(args, ["ceiling"], None)
    _record(args.out, ceiling)
    modes = {}
    for mode in args.modes:
        print(f"measuring storage {mode} ...", flush=True)
        modes[mode] = _child(args, ["mode", mode], None)
        _record(args.out, modes[mode])
    mergekit: dict[str, float | None] = {}
    for method in args.methods if not args.skip_mergekit else ():
        print(f"mergekit {method} (limit {args.mergekit_limit:.0f} s) ...", flush=True)
        row = _child(args, ["mergekit", method], args.mergekit_limit)
        mergekit[method] = None if row is None else row["seconds"]
        _record(args.out, row or {"kind": "mergekit", "method": method, "seconds": None,
                                   "limit": args.mergekit_limit})
    summary = report(args, pool_files, ceiling, modes, mergekit, auto)
    return summary


def auto_choice(pool_files) -> dict:
    """What ``storage: auto`` picks for this pool on this machine now, and the sizes it weighs."""
    from mmmo.sources.loading import describe_pool
    from mmmo.sources.storage_choice import available_memory, choose_storage

    needs = describe_pool(pool_files.base, pool_files.sources, torch.bfloat16).needs
    available = available_memory()
    return {"mode": choose_storage("auto", needs, available, True), "resident_bytes": needs.resident,
            "mmap_bytes": needs.mmap, "available_bytes": available}


def report(args, pool_files, ceiling: dict, modes: dict, mergekit: dict, auto: dict) -> dict:
    model = next(iter(modes.values()))["model_bytes"]
    k_full = len(SOURCES)
    print(f"\npool: {pool_files.parameters / 1e9:.3f}B bfloat16 parameters per model ({_gib(model)} GiB), "
          f"base + {k_full} full sources + 1 LoRA r16 adapter; torch threads {args.threads}")
    print(f"read ceiling: {(k_full + 1)} x model = {_gib(ceiling['bytes'])} GiB summed in "
          f"{ceiling['seconds']:.2f} s ({ceiling['bytes'] / ceiling['seconds'] / 1e9:.2f} GB/s)")
    header = (f"{'storage':<9}{'method':<16}{'cold s':>8}{'warm s':>8}{'3-src s':>9}"
              f"{'mergekit s':>12}{'speedup':>9}{'x ceiling':>10}")
    print(header)
    summary: dict = {"parameters": pool_files.parameters, "model_gib": round(model / 2**30, 3), "auto": auto["mode"],
                     "read_ceiling_s": round(ceiling["seconds"], 3), "modes": {}}
    for mode, result in modes.items():
        rows = {}
        for method, r in result["methods"].items():
            theirs = mergekit.get(method)
            speedup = None if theirs is None else theirs / r["full_warm"]
            kit = ("skipped" if args.skip_mergekit else f"> {args.mergekit_limit:.0f}") if theirs is None else f"{theirs:.1f}"
            print(f"{mode:<9}{method:<16}{r['all_cold']:>8.2f}{r['all_warm']:>8.2f}{r['full_warm']:>9.2f}"
                  f"{kit:>12}{'' if speedup is None else f'{speedup:.1f}':>9}"
                  f"{r['full_warm'] / ceiling['seconds']:>10.2f}")
            rows[method] = {"cold_s": round(r["all_cold"], 3), "warm_s": round(r["all_warm"], 3),
                            "warm_3_sources_s": round(r["full_warm"], 3),
                            "mergekit_s": None if theirs is None else round(theirs, 2),
                            "speedup_vs_mergekit": None if speedup is None else round(speedup, 1)}
        summary["modes"][mode] = {
            "methods": rows,
            "load_s": round(result["load_seconds"], 2),
            "load_peak_anon_model_sizes": round(result["load_peak_anon"] / model, 3),
            "merge_peak_anon_model_sizes": round(result["merge_peak_anon"] / model, 3),
            "merge_peak_rss_model_sizes": round(result["merge_peak_rss"] / model, 3),
            "load_peak_rss_model_sizes": round(result["load_peak_rss"] / model, 3),
        }
    print(f"\n{'storage':<9}{'load s':>8}{'peak anon (load)':>18}{'peak anon (merge)':>19}{'peak RSS (merge)':>18}"
          "   in model sizes, above the process after imports")
    for mode, s in summary["modes"].items():
        print(f"{mode:<9}{s['load_s']:>8.1f}{s['load_peak_anon_model_sizes']:>18.2f}"
              f"{s['merge_peak_anon_model_sizes']:>19.2f}{s['merge_peak_rss_model_sizes']:>18.2f}")
    if "resident" in modes and "mmap" in modes:
        ratio = max(modes["mmap"]["methods"][m]["all_warm"] / modes["resident"]["methods"][m]["all_warm"] for m in args.methods)
        summary["warm_mmap_over_resident_max"] = round(ratio, 2)
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
