"""``mmmo pareto-merge CONFIG`` in a subprocess, as a user runs it."""

import os
import subprocess
import sys

import yaml

from mmmo.campaign import Campaign


def _write(tmp_path, zoo, **overrides):
    tasks = list(zoo.expert_tasks)
    raw = {
        "name": "pm-cli",
        "base": str(zoo.base),
        "models": [{"path": str(zoo.experts[t]), "name": t} for t in tasks],
        "tasks": [{"name": t, "data": str(zoo.tasks[t].train), "loss": "lm", "limit": 32} for t in tasks],
        "objectives": [
            {"kind": "token_accuracy", "name": t, "data": str(zoo.tasks[t].test), "limit": 16}
            for t in tasks
        ],
        "training": {"steps": 5},
        "grid": {"steps": 1},
        "device": "cpu",
    } | overrides
    path = tmp_path / "pareto.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _mmmo(*args):
    # One thread: the zoo's models are tiny, and two threads fight over a busy CI CPU.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mmmo.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def test_pareto_merge_trains_and_records_the_grid(tiny_zoo, tmp_path):
    config = _write(tmp_path, tiny_zoo)
    db, out = tmp_path / "grid.db", tmp_path / "out"
    result = _mmmo("pareto-merge", config, "--db", db, "--out", out)
    assert result.returncode == 0, result.stderr
    assert "extra parameters" in result.stdout
    assert (out / "pareto_correction.safetensors").is_file()
    trials = Campaign.open(db, readonly=True).trials()
    ours = trials[trials["proposer"] == "pareto_merging"]
    assert len(ours) == len(tiny_zoo.expert_tasks)  # the corners of a 1-step grid
    assert (ours["status"] == "complete").all()


def test_pareto_merge_refuses_a_bad_config_naming_the_field(tiny_zoo, tmp_path):
    config = _write(tmp_path, tiny_zoo, training={"steps": 0})
    result = _mmmo("pareto-merge", config, "--db", tmp_path / "grid.db")
    assert result.returncode == 2
    assert "training.steps" in result.stderr
    assert not (tmp_path / "grid.db").exists()
