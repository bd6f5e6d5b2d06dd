"""The multi-fidelity benchmark at its smallest setting, split by seed and combined, as CI runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "multi_fidelity.py"


def run(*args: str) -> dict:
    command = [sys.executable, str(SCRIPT), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_runs_split_by_seed_append_and_combine(tiny_zoo, tmp_path: Path) -> None:
    results = tmp_path / "runs.jsonl"
    common = ["--zoo", "tiny", "--limit", "8", "--trials", "4", "--initial", "2", "--smoke",
              "--results", str(results), "--out", str(tmp_path)]
    run(*common, "--seeds", "0", "--methods", "mmmo-mf,mmmo-momf,sobol,halving")
    run(*common, "--seeds", "1", "--methods", "mmmo-mf,mmmo-sf")
    summary = run("--report", str(results), "--out", str(tmp_path / "report"))
    runs = [json.loads(line) for line in results.read_text().splitlines()]
    assert {(r["method"], r["seed"]) for r in runs} == {
        ("mmmo-mf", 0), ("mmmo-momf", 0), ("sobol", 0), ("halving", 0), ("mmmo-mf", 1), ("mmmo-sf", 1)}
    budget = 4 * 3 * 8
    for r in runs:
        assert r["examples"] == sorted(r["examples"]) and r["examples"][-1] >= budget
        assert r["examples"][-1] <= budget + 3 * 8  # the budget is overshot by at most one trial
    assert summary["budget_examples"] == budget
    assert set(summary["methods"]) == {"mmmo-mf", "mmmo-momf", "mmmo-sf", "sobol", "halving"}
    table = (tmp_path / "report" / "multi_fidelity.md").read_text()
    assert table.count("| mmmo-") >= 3
    assert "| mmmo-sf final HV | mmmo-mf: share / final HV |" in table  # paired with mmmo-sf on seed 1 only
    assert "| 1 | " in table
    assert (tmp_path / "report" / "multi_fidelity.png").stat().st_size > 0
