"""Inside a campaign, library progress bars stay off and library warnings show once."""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from tqdm import tqdm

from mmmo.quiet import progress_bars_dropped, quiet_libraries

REPO = Path(__file__).resolve().parent.parent

CAMPAIGN = """
import os, sys, tempfile
from mmmo import Campaign
from mmmo.resources import zoo_tasks_dir
from mmmo.zoo import ZooConfig, build_zoo

zoo = build_zoo(ZooConfig.tiny(), progress=False)
experts = list(zoo.experts.items())[:2]
config = {
    "base": str(zoo.base),
    "models": [{"path": str(p), "name": n} for n, p in experts],
    "space": "ties",
    "objectives": [
        {"kind": "exact_match", "data": str(zoo.tasks[experts[0][0]].test), "limit": 4, "name": "em"},
        {"kind": "lm_eval", "task": "zoo_shift2", "include_path": str(zoo_tasks_dir()), "limit": 4, "name": "lm"},
    ],
    "budget": {"trials": 3, "initial": 3},
    "recipes": False,
    "device": "cpu",
}
campaign = Campaign.create(os.path.join(tempfile.mkdtemp(), "c.sqlite"), config)
campaign.run()
print("statuses", sorted(set(campaign.trials()["status"])), file=sys.stderr)
"""


@pytest.mark.slow
def test_campaign_output_has_no_library_bars_and_warnings_once(tmp_path):
    """Six lm-eval evaluations (base, two sources, three searched): no transformers,
    datasets or lm-eval bar reaches stderr, and lm-eval's warning about an
    in-memory model shows once although the objective runs six times."""
    script = tmp_path / "campaign.py"
    script.write_text(CAMPAIGN)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600,
                            env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr[-3000:]
    err = result.stderr
    assert "statuses ['complete']" in err
    for bar in ("Loading weights", "it/s]", "Running generate_until", "Generating test split"):
        assert bar not in err, err
    assert err.count("Passed an already-initialized model through `pretrained`") <= 1


def test_python_warnings_show_once_even_when_registries_are_reset():
    def trial():
        with warnings.catch_warnings():  # as libraries do: it resets the per-location registries
            pass
        warnings.warn("the same advice every trial", UserWarning, stacklevel=1)

    shown = []
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = lambda message, *args, **kwargs: shown.append(str(message))
        with quiet_libraries():
            for _ in range(3):
                trial()
            warnings.warn("a different warning", UserWarning, stacklevel=1)
        trial()  # outside the block: shown as Python would
    assert shown == ["the same advice every trial", "a different warning", "the same advice every trial"]


def test_library_log_warnings_show_once_and_errors_always(capsys):
    logger = logging.getLogger("lm_eval.some_module")
    handler = logging.StreamHandler(sys.stderr)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with quiet_libraries():
            for _ in range(3):
                logger.warning("metric has no aggregation")
                logger.error("a real failure")
        logger.warning("metric has no aggregation")  # outside: shown again
    finally:
        root.removeHandler(handler)
    err = capsys.readouterr().err
    assert err.count("metric has no aggregation") == 2
    assert err.count("a real failure") == 3


def test_transformers_bars_are_restored():
    from transformers.utils import logging as transformers_logging

    transformers_logging.enable_progress_bar()
    with quiet_libraries():
        assert not transformers_logging.is_progress_bar_enabled()
    assert transformers_logging.is_progress_bar_enabled()


def test_progress_bars_dropped_keeps_other_output(capsys):
    with progress_bars_dropped():
        for _ in tqdm(range(3), desc="Running loglikelihood requests"):
            pass
        print("a line of its own", file=sys.stderr)
    print("after", file=sys.stderr)
    err = capsys.readouterr().err
    assert "Running loglikelihood" not in err
    assert "a line of its own\n" in err and "after\n" in err
