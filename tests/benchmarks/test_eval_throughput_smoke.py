"""The evaluation-throughput benchmark on the test zoo, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "eval_throughput.py"


@pytest.mark.slow
def test_demo_zoo_mode_reports_equal_scores_and_throughputs():
    command = [sys.executable, str(SCRIPT), "--tiny", "--repeats", "1", "--device", "cpu", "--threads", "1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env={**os.environ})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["scores_equal"] is True
    assert result["builtin_eps"] > 0 and result["lmeval_eps"] > 0 and result["generate_eps"] > 0
    assert "same outputs: True" in done.stdout
