"""The merge-memory benchmark on a small model, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "merge_memory.py"


@pytest.mark.slow
def test_every_path_and_method_reports_its_memory():
    command = [sys.executable, str(SCRIPT), "--hidden", "64", "--layers", "2", "--vocab", "512"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env={**os.environ})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    methods = ("task_arithmetic", "ties", "dare_ties", "dare_linear", "breadcrumbs")
    for path in ("cpu", "budget"):
        for method in methods:
            assert set(result[f"{path}/{method}"]) == {"first", "steady"}
    # The smallest budget chunk: the largest tensor (512 x 64 bfloat16) is below its floor.
    assert result["budget_chunk"] == 1024
    assert result["largest_tensor_mib"] == pytest.approx(512 * 64 * 2 / 2**20, abs=0.01)
