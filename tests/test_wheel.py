"""mmmo installed from its wheel, away from the checkout, runs a campaign with a preset.

The wheel is built from a copy of the sources, installed without
dependencies into a fresh virtual environment outside the checkout, and run
from a temporary folder. The environment sees the test interpreter's
installed packages (torch, transformers, ...) through a ``.pth`` file that
lists their folders, but never the checkout, so ``space: dare_ties`` and the
zoo's lm-eval tasks can only come from the files the wheel ships.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("mmmo", "search_spaces", "objectives", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md")

SCRIPT = """
import json, sys
import mmmo, mmmo.resources
from mmmo import Campaign

zoo_root, data = sys.argv[1], json.loads(sys.argv[2])
tasks = mmmo.resources.zoo_tasks_dir()
config = {
    "base": data["base"],
    "models": data["models"],
    "space": "dare_ties",
    "objectives": [
        {"kind": "exact_match", "data": data["test"], "limit": 8, "name": "em"},
        {"kind": "lm_eval", "task": "zoo_shift2", "include_path": str(tasks), "limit": 4, "name": "lm"},
    ],
    "budget": {"trials": 2, "initial": 2},
    "recipes": False,
    "device": "cpu",
}
campaign = Campaign.create("campaign.sqlite", config)
campaign.run()
trials = campaign.trials()
print(json.dumps({
    "mmmo": mmmo.__file__,
    "presets": str(mmmo.resources.presets_dir()),
    "tasks": str(tasks),
    "statuses": trials["status"].tolist(),
    "errors": [e for e in trials["error"].tolist() if isinstance(e, str)],
}))
"""


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command[:4]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.mark.slow
def test_wheel_runs_a_preset_campaign_outside_the_checkout(tmp_path, tiny_zoo):
    source = tmp_path / "src"
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "_data"))
        else:
            shutil.copy2(path, source / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(source)],
         tmp_path, env)
    (wheel,) = dist.glob("mmmo-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    python = venv / "bin" / "python"
    site_packages = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              tmp_path, env).strip())
    # The test interpreter's installed packages, minus the checkout (an editable
    # install's path entry or a PYTHONPATH), stand in for the wheel's dependencies.
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    folders = [p for p in dict.fromkeys([*sys.path, *ours]) if p and Path(p).is_dir() and Path(p).resolve() != REPO
               and "site-packages" in p]
    (site_packages / "zz_test_dependencies.pth").write_text("\n".join(folders) + "\n")
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)], tmp_path, env)

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    data = {
        "base": str(tiny_zoo.base),
        "models": [{"path": str(path), "name": name} for name, path in list(tiny_zoo.experts.items())[:2]],
        "test": str(tiny_zoo.tasks[tiny_zoo.expert_tasks[0]].test),
    }
    script = run_dir / "run_campaign.py"
    script.write_text(SCRIPT)
    out = json.loads(_run([str(python), str(script), str(tiny_zoo.root), json.dumps(data)], run_dir, env)
                     .strip().splitlines()[-1])

    for key in ("mmmo", "presets", "tasks"):
        assert Path(out[key]).resolve().is_relative_to(site_packages.resolve()), (key, out[key])
    assert out["statuses"] == ["complete"] * 5, out  # base, two sources, two searched trials
    assert not out["errors"]
