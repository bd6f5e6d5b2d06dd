"""Fixtures of the real zoo's tests: a tiny GGUF model and a fake BIG-bench archive."""

from __future__ import annotations

import io
import json
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the tiny_gguf helper beside this file
from tiny_gguf import write_tiny_gguf  # noqa: E402

def addition_task(n: int = 40) -> dict:
    examples = [
        {"input": f"What is {a} plus {a + 1}?", "target": str(2 * a + 1), "target_scores": {str(2 * a + 1): 1.0}}
        for a in range(n)
    ]
    return {"name": "2_digit_addition", "canary": "BENCHMARK DATA SHOULD NEVER APPEAR", "examples": examples}


def counting_task(n: int = 30) -> dict:
    words = ["one", "two", "three", "four", "five"]
    examples = [
        {
            "input": f"I have {'a cat, ' * (i % 5)}a dog named {i}. How many animals do I have?",
            "target": [words[i % 5], str(i % 5 + 1)],
        }
        for i in range(n)
    ]
    # BIG-bench tasks mix in multiple-choice-only examples; they are skipped.
    examples.append({"input": "Pick one.", "target_scores": {"a": 1.0, "b": 0.0}})
    return {"name": "object_counting", "examples": examples}


def choice_task() -> dict:
    return {"name": "choices", "examples": [{"input": "Pick one.", "target_scores": {"a": 1.0, "b": 0.0}}]}


def write_fake_sdist(path: Path, tasks: dict[str, dict]) -> Path:
    """A tar.gz laid out like the ``bigbench`` sdist, holding ``tasks`` by folder name."""
    with tarfile.open(path, "w:gz") as archive:
        for name, task in tasks.items():
            data = json.dumps(task).encode()
            info = tarfile.TarInfo(f"bigbench-1.0.0/bigbench/benchmark_tasks/{name}/task.json")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        readme = b"not a task"
        info = tarfile.TarInfo("bigbench-1.0.0/README.md")
        info.size = len(readme)
        archive.addfile(info, io.BytesIO(readme))
    return path


FAKE_TASKS = {
    "arithmetic/2_digit_addition": addition_task(),
    "object_counting": counting_task(),
    "choices": choice_task(),
}


@pytest.fixture
def fake_sdist(tmp_path) -> Path:
    return write_fake_sdist(tmp_path / "bigbench-1.0.0.tar.gz", FAKE_TASKS)


@pytest.fixture
def tiny_gguf(tmp_path) -> tuple[Path, dict]:
    """A tiny Llama GGUF file (tied embeddings) and its float32 tensors by GGUF name."""
    path = tmp_path / "gguf" / "tiny.gguf"
    path.parent.mkdir()
    return path, write_tiny_gguf(path)


@pytest.fixture
def fake_packages(tmp_path, monkeypatch, fake_sdist, tiny_gguf) -> Path:
    """A private cache whose package folder already holds a fake model wheel and BIG-bench sdist."""
    from mmmo.realzoo.fetch import BIGBENCH, SMOLLM2, SMOLLM2_GGUF

    cache = tmp_path / "cache"
    monkeypatch.setenv("MMMO_CACHE", str(cache))
    packages = cache / "real" / "packages"
    packages.mkdir(parents=True)
    with zipfile.ZipFile(packages / SMOLLM2.filename, "w") as wheel:
        wheel.write(tiny_gguf[0], SMOLLM2_GGUF)
    fake_sdist.rename(packages / BIGBENCH.filename)
    return cache


def pytest_collection_modifyitems(config, items):
    """Tests marked ``real`` run only when ``-m`` selects them (they download and train for minutes)."""
    selected = config.getoption("markexpr") or ""
    if "real" in selected and "not real" not in selected:
        return
    skip = pytest.mark.skip(reason="downloads ~450 MB and trains on the CPU for minutes; run with: pytest -m real")
    for item in items:
        if "real" in item.keywords:
            item.add_marker(skip)
