"""Fixtures of the evaluation tests: one Ray instance for the whole session, and campaign configs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent
REPO = TESTS.parent


@pytest.fixture(scope="session")
def ray_flags(tmp_path_factory) -> Path:
    """The folder whose files steer ``campaign_worker:ray_probe`` in every worker."""
    return tmp_path_factory.mktemp("ray_flags")


@pytest.fixture(scope="session")
def ray_env(ray_flags) -> dict[str, str]:
    """Environment of every Ray worker: the test objectives importable, the flag folder named."""
    path = os.pathsep.join(p for p in (str(TESTS), str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "MMMO_TEST_FLAGS": str(ray_flags), "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="session")
def ray_session(ray_env):
    """One local Ray instance shared by every Ray test: 2 CPUs, no dashboard, a small object store."""
    ray = pytest.importorskip("ray")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=200 * 1024**2,
        runtime_env={"env_vars": ray_env},
        log_to_driver=False,
    )
    yield ray
    ray.shutdown()


@pytest.fixture
def flags(ray_flags, monkeypatch) -> Path:
    """The flag folder, empty at the start of each test; this process's probe reads it too."""
    for flag in ray_flags.iterdir():
        flag.unlink()
    monkeypatch.setenv("MMMO_TEST_FLAGS", str(ray_flags))
    monkeypatch.syspath_prepend(str(TESTS))
    yield ray_flags
    for flag in ray_flags.iterdir():
        flag.unlink()


def zoo_config(zoo, **overrides) -> dict:
    """A small Sobol campaign on the tiny zoo: two experts, one task, the probe objective."""
    tasks = list(zoo.expert_tasks[:2])
    config = {
        "base": str(zoo.base),
        "models": [{"path": str(zoo.experts[t]), "name": t} for t in tasks],
        "space": "task_arithmetic",
        "objectives": [
            {"kind": "exact_match", "data": str(zoo.tasks[tasks[0]].test), "name": tasks[0], "limit": 8},
            {"kind": "callable", "function": "campaign_worker:ray_probe", "name": "head"},
        ],
        "budget": {"trials": 4, "initial": 4, "batch_size": 1},
        "proposer": "sobol",
        "recipes": False,
        "device": "cpu",
        "seed": 3,
    }
    config.update(overrides)
    return config


def ray_executor(workers: int = 2, **overrides) -> dict:
    return {"kind": "ray", "address": "local", "workers": workers, "cpus_per_worker": 1, **overrides}


def write_flag(folder: Path, name: str, text: str = "") -> None:
    (folder / name).write_text(text)
