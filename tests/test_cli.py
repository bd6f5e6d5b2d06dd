"""The ``mmmo`` command line, run as a subprocess: exit codes, output, files.

Commands that need a campaign share one, made by ``mmmo demo`` on the tiny zoo
with a budget of two searched trials (module-scoped fixture).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

TRIALS = 2


def mmmo(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmmo.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=900)


def assert_clean_error(result: subprocess.CompletedProcess, code: int, *fragments: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


# ------------------------------------------------------------ no campaign needed


def test_usage_errors_exit_2():
    assert_clean_error(mmmo(), 2, "usage: mmmo")
    assert_clean_error(mmmo("front"), 2, "the following arguments are required: path")
    assert_clean_error(mmmo("resume", "x.db", "--trials", "0"), 2, "expected a positive integer, got 0")
    assert_clean_error(mmmo("export", "x.db", "seven", "out"), 2, "invalid int value: 'seven'")


def test_config_errors_exit_2_and_name_each_field(tmp_path):
    missing = tmp_path / "missing.yaml"
    assert_clean_error(mmmo("run", missing), 2, f"mmmo: error: config file not found: {missing}")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({
        "base": "base", "models": ["m"], "space": {"method": "ties"},
        "objectives": [{"kind": "exact_match"}], "budget": {"trails": 3},
    }))
    result = mmmo("run", bad)
    assert_clean_error(
        result, 2,
        f"mmmo: error: {bad}: budget.trails: unknown field\n",
        f"mmmo: error: {bad}: objectives.0: Value error, kind 'exact_match' needs 'data'",
    )
    assert not (tmp_path / "bad.db").exists()


def test_missing_campaign_file_exits_2(tmp_path):
    for command in ("status", "front", "resume", "plot"):
        assert_clean_error(mmmo(command, tmp_path / "none.db"), 2, f"no campaign file at {tmp_path / 'none.db'}")


# ------------------------------------------------------------ one shared campaign


@dataclass(frozen=True)
class Demo:
    out: Path
    db: Path
    result: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def demo(tiny_zoo, tmp_path_factory) -> Demo:
    out = tmp_path_factory.mktemp("demo")
    result = mmmo("demo", "--zoo", "tiny", "--trials", TRIALS, "--out", out)
    assert result.returncode == 0, result.stderr
    return Demo(out=out, db=out / "demo.db", result=result)


def _open(db: Path):
    from mmmo.campaign import Campaign

    return Campaign.open(db, readonly=True)


@pytest.mark.slow
def test_demo_prints_front_and_writes_plots(demo, tiny_zoo):
    campaign = _open(demo.db)
    front_ids = set(campaign.front()["trial_id"])
    table = demo.result.stdout
    header = table.splitlines()[0].split()
    assert header[:2] == ["trial", "model"] and set(tiny_zoo.expert_tasks) <= set(header)
    *rows, footer = table.splitlines()[1:]
    assert {int(line.split()[0]) for line in rows} == front_ids
    assert footer == "weights and densities in source order: " + ", ".join(tiny_zoo.expert_tasks)
    # Progress: one line per finished searched trial when stderr is not a terminal.
    assert f"trial {TRIALS}/{TRIALS}" in demo.result.stderr and "hv=" in demo.result.stderr
    for name in ("front", "hypervolume", "parameters"):
        assert (demo.out / "plots" / f"{name}.png").stat().st_size > 10_000
    assert (demo.out / "demo.yaml").is_file()
    searched = campaign.trials().query("label.isnull()")
    assert (searched["status"] == "complete").sum() == TRIALS


@pytest.mark.slow
def test_status_reports_progress_best_hypervolume_failures(demo, tiny_zoo):
    result = mmmo("status", demo.db)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert f"{TRIALS} complete of {TRIALS} budgeted" in text
    assert "hypervolume: " in text and "failures: 0" in text
    trials = _open(demo.db).trials()
    for task in tiny_zoo.expert_tasks:
        best = trials[trials["status"] == "complete"][task].max()
        assert f"  {task} (maximize): {best:.4g}  trial #" in text


@pytest.mark.slow
def test_front_json_lists_front_members(demo, tiny_zoo):
    result = mmmo("front", demo.db, "--json")
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    front = _open(demo.db).front().set_index("trial_id")
    assert sorted(r["id"] for r in records) == sorted(front.index)
    for record in records:
        assert set(record["objectives"]) == set(tiny_zoo.expert_tasks)
        for name, value in record["objectives"].items():
            assert value == pytest.approx(front.loc[record["id"], name])
        if record["label"] is None:  # searched: a weight and a density per expert
            assert len(record["params"]) == 2 * len(tiny_zoo.expert_tasks)


@pytest.mark.slow
def test_export_writes_hf_checkpoint(demo, tmp_path):
    front = _open(demo.db).front()
    trial_id = int(front[~front["is_reference"]]["trial_id"].iloc[0]) if (~front["is_reference"]).any() \
        else int(front["trial_id"].iloc[0])
    result = mmmo("export", demo.db, trial_id, tmp_path / "merged")
    assert result.returncode == 0, result.stderr
    out = Path(result.stdout.strip())
    assert (out / "config.json").is_file() and (out / "merge_plan.json").is_file()
    assert list(out.glob("*.safetensors"))
    assert_clean_error(mmmo("export", demo.db, 10_000, tmp_path / "x"), 2, "10000")


@pytest.mark.slow
def test_plot_writes_three_pngs(demo, tmp_path):
    result = mmmo("plot", demo.db, "--out", tmp_path / "plots")
    assert result.returncode == 0, result.stderr
    files = [Path(line) for line in result.stdout.split()]
    assert sorted(f.name for f in files) == ["front.png", "hypervolume.png", "parameters.png"]
    assert all(f.parent == tmp_path / "plots" and f.stat().st_size > 10_000 for f in files)


@pytest.mark.slow
def test_run_refuses_an_existing_db_without_resume(demo):
    config = demo.out / "demo.yaml"
    assert_clean_error(mmmo("run", config, "--db", demo.db), 2, "already exists; pass --resume")


@pytest.mark.slow
def test_run_creates_then_resume_and_run_resume_continue(demo, tiny_zoo, tmp_path):
    raw = yaml.safe_load((demo.out / "demo.yaml").read_text())
    raw.update(recipes=False, proposer="sobol", budget={"trials": 1, "initial": 1})
    for objective in raw["objectives"]:
        objective["limit"] = 8
    config = tmp_path / "small.yaml"
    config.write_text(yaml.safe_dump(raw))
    db = tmp_path / "small.db"  # the default: CONFIG with .db

    def searched_complete() -> int:
        trials = _open(db).trials()
        return int(((trials["status"] == "complete") & trials["label"].isna()).sum())

    result = mmmo("run", config)
    assert result.returncode == 0, result.stderr
    trials = _open(db).trials()
    assert sorted(trials["label"].dropna()) == sorted(["base", *tiny_zoo.expert_tasks])
    assert searched_complete() == 1
    assert mmmo("resume", db, "--trials", 1).returncode == 0
    assert searched_complete() == 2
    result = mmmo("run", config, "--resume", "--trials", 1)
    assert result.returncode == 0, result.stderr
    assert f"resuming {db}" in result.stderr and searched_complete() == 3
    raw["seed"] = 1
    config.write_text(yaml.safe_dump(raw))
    assert_clean_error(mmmo("run", config, "--resume"), 2, "created from a different config (fields ['seed'] differ)")
