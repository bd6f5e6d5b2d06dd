"""Fixtures of the fault-injection suite, and its count of the cases it tried.

The suite attacks the campaign's files and processes the way a careless user
or a hostile file would (kills, truncation, symlinks, pickles, a full disk)
and checks that nothing stored is lost or overwritten and that every refusal
names its culprit. At the end of a run it reports how many cases it tried.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections import Counter
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the suite's helpers: ``import faultlib``
from micro_models import save_micro_models  # noqa: E402  (tests/, put on the path by tests/conftest.py)
_outcomes: Counter = Counter()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "tests/faults/" not in report.nodeid.replace("\\", "/") and not report.nodeid.startswith("faults/"):
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _outcomes[report.outcome] += 1


def pytest_terminal_summary(terminalreporter) -> None:
    tried = sum(_outcomes.values())
    if tried:
        terminalreporter.write_line(
            f"fault injection: {tried} cases tried: {_outcomes['passed']} held, "
            f"{_outcomes['failed']} broke, {_outcomes['skipped']} skipped"
        )


@pytest.fixture(scope="session")
def micro(tmp_path_factory) -> Path:
    """A 2-layer random Llama base, two perturbed sources, a LoRA adapter and an answer file."""
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM

    root = tmp_path_factory.mktemp("faults-micro")
    config = save_micro_models(root, num_layers=2)
    lora = get_peft_model(LlamaForCausalLM(config), LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    lora.save_pretrained(root / "lora")
    lines = [json.dumps({"prompt": c * 3, "answer": c}) for c in "abc"]
    (root / "t1.jsonl").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def models(micro, tmp_path) -> Path:
    """A private copy of the micro models, free to be damaged by one test."""
    copy = tmp_path / "models"
    shutil.copytree(micro, copy)
    return copy


@pytest.fixture(autouse=True)
def worker_objectives(monkeypatch):
    """``campaign_worker:...`` callables importable here and in child processes."""
    monkeypatch.syspath_prepend(str(TESTS))
    monkeypatch.setenv("PYTHONPATH", str(TESTS) + ":" + __import__("os").environ.get("PYTHONPATH", ""))
