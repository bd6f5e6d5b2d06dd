"""The search-efficiency benchmark at its smallest setting, end to end, as CI runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "search_efficiency.py"
METHODS = (
    "mmmo-qlognehvi",
    "mmmo-qlognparego",
    "sobol",
    "random",
    "pymoo-nsga2",
    "optuna-nsga2",
    "optuna-tpe",
    "ax",
    "cmaes",
    "mm-mo-recipe",
)
BUDGET = 5


@pytest.mark.slow
def test_every_method_spends_the_budget_and_reports(tiny_zoo, tmp_path: Path) -> None:
    # tiny_zoo builds (or finds) the zoo the script loads, so the subprocess only reads the cache.
    command = [
        sys.executable, str(SCRIPT), "--zoo", "tiny", "--seeds", "1", "--budget", str(BUDGET), "--initial", "4",
        "--limit", "16", "--out", str(tmp_path), "--no-cache-file", "--smoke", "--methods", ",".join(METHODS),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])

    assert result["failures"] == {}
    assert set(result["methods"]) == set(METHODS)
    for name, figures in result["methods"].items():
        # A fraction of the union front of every point found, so never above 1.
        assert 0.0 <= figures["hv_at_budget"] <= 1.0 + 1e-9, name
        assert figures["evals_to_90"] is None or 1 <= figures["evals_to_90"] <= BUDGET, name
    assert result["reference_hv"] > 0.0

    runs = json.loads((tmp_path / "search_efficiency_runs.json").read_text())["runs"]
    for run in runs:
        # Every method is charged exactly the budget, each point once.
        assert len(run["X"]) == BUDGET, run["method"]
        assert len({tuple(round(v, 6) for v in x) for x in run["X"]}) == BUDGET, run["method"]
    # mmmo's methods start from the same Sobol design, so their first points coincide.
    first = {r["method"]: r["X"][:4] for r in runs}
    assert first["mmmo-qlognehvi"] == first["sobol"] == first["mmmo-qlognparego"]
    assert (tmp_path / "search_efficiency.png").stat().st_size > 0
    table = (tmp_path / "search_efficiency.md").read_text()
    assert all(f"| {name} |" in table for name in METHODS)


def test_mmmo_options_reach_the_proposer_over_the_smoke_settings(monkeypatch) -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import search_efficiency
    finally:
        sys.path.remove(str(SCRIPT.parent))
    seen = {}
    monkeypatch.setattr(search_efficiency, "run_mmmo", lambda *args, **options: seen.update(options))
    args = search_efficiency.parse_args(["--mmmo-options", '{"max_baseline": null, "mc_samples": 128}'])
    problem = type("Problem", (), {"dim": 6, "num_objectives": 3})()
    search_efficiency.run_method("mmmo-qlognehvi", None, problem, 8, 0, None, smoke=True,
                                 mmmo_options=args.mmmo_options)
    assert seen == {**search_efficiency.SMOKE_ACQUISITION, "max_baseline": None, "mc_samples": 128}
