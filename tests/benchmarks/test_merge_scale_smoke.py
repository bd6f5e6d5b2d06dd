"""The scale benchmarks on the tiny synthetic pool, end to end: the GPU check's CPU dry run and merge_scale."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _module(name: str):
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module(name)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    previous = os.environ.get("MMMO_CACHE")
    os.environ["MMMO_CACHE"] = str(root)
    yield root
    if previous is None:
        os.environ.pop("MMMO_CACHE")
    else:
        os.environ["MMMO_CACHE"] = previous


def test_synthetic_pool_is_built_once_with_a_plain_lora_adapter(cache):
    synthetic = _module("synthetic_llama")
    pool = synthetic.synthetic_pool("tiny", progress=lambda m: None)
    stamp = (pool.root / synthetic.DONE).stat().st_mtime_ns
    assert synthetic.synthetic_pool("tiny", progress=lambda m: None) == pool
    assert (pool.root / synthetic.DONE).stat().st_mtime_ns == stamp
    from mmmo.sources import ModelPool

    loaded = ModelPool.load(pool.base, pool.sources, storage="mmap")
    assert loaded.task_vectors.kind(synthetic.ADAPTER) == "factors"
    name = "model.layers.0.mlp.up_proj.weight"
    delta = loaded.delta("src1")[name].float()
    relative = float(delta.norm() / loaded.base_state[name].float().norm())
    assert 1e-4 < relative < 1e-2  # "about 1e-3 of the weights", after bfloat16 rounding


def test_gpu_check_dry_run_on_the_cpu_passes_every_check(cache):
    gpu_check = _module("gpu_check")
    summary = gpu_check.main(["--device", "cpu", "--tiny", "--cpu-threads", "1", "--examples", "8"])
    assert summary["failed"] == [] and summary["streamed_parts"] > 0
    assert set(summary["methods"]) >= {"task_arithmetic", "ties", "dare_ties", "slerp", "della"}
    assert all(r["ok"] and r["kept_agreement"] == 1.0 for r in summary["methods"].values())
    assert summary["exact_match_examples_per_s"] > 0


def test_merge_scale_tiny_reports_every_mode_and_method(cache, tmp_path):
    out = tmp_path / "scale.jsonl"
    command = [sys.executable, str(BENCHMARKS / "merge_scale.py"), "--size", "tiny", "--repeats", "1",
               "--skip-mergekit", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=dict(os.environ))
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(summary["modes"]) == {"resident", "mmap"}
    for mode in summary["modes"].values():
        assert set(mode["methods"]) == {"task_arithmetic", "ties", "dare_ties"}
        assert all(r["warm_s"] > 0 and r["mergekit_s"] is None for r in mode["methods"].values())
    kinds = [json.loads(line)["kind"] for line in out.read_text().splitlines()]
    assert kinds == ["ceiling", "mode", "mode"]
