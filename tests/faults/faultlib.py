"""Helpers of the fault-injection suite: a campaign config on the micro models, the CLI as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent  # holds campaign_worker.py, whose callables configs name

def config_for(root: Path, **overrides) -> dict:
    config = {
        "base": str(root / "base"),
        "models": [{"path": str(root / "a"), "name": "a"}, {"path": str(root / "b"), "name": "b"}],
        "space": "dare_ties",
        "objectives": [
            {"kind": "answer_loglik", "data": str(root / "t1.jsonl"), "name": "t1"},
            {"kind": "callable", "function": "campaign_worker:head_sum", "name": "head"},
        ],
        "proposer": "random",
        "recipes": False,
        "budget": {"trials": 2, "initial": 1, "batch_size": 1},
        "device": "cpu",
        "seed": 1,
    }
    config.update(overrides)
    return config


def mmmo(*args, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmmo.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, **kwargs)


def assert_clean_error(result: subprocess.CompletedProcess, code: int, *fragments: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
