from __future__ import annotations

import io

from mmmo.progress import TrialProgress, format_value
from mmmo.trial import TrialReport


def test_progress_lines_show_scores_hypervolume_and_failures():
    stream = io.StringIO()  # not a terminal: one line per trial
    with TrialProgress(stream) as progress:
        progress(TrialReport(0, "complete", "base", {"a": 0.25, "b": 0.5}, None, 0, 4))
        progress(TrialReport(9, "complete", None, {"a": 0.5, "b": 0.125}, 0.0625, 1, 4))
        progress(TrialReport(10, "failed", None, {"a": None, "b": None}, 0.0625, 2, 4,
                             error="Traceback ...\nRuntimeError: NaN in logits"))
    assert stream.getvalue().splitlines() == [
        "reference base (#0)  a=0.25  b=0.5",
        "trial 1/4 (#9)  a=0.5  b=0.125  hv=0.0625",
        "trial 2/4 (#10)  failed=RuntimeError: NaN in logits  hv=0.0625",
    ]


def test_progress_bar_on_a_terminal_carries_scores_and_hypervolume():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    with TrialProgress(stream) as progress:
        progress(TrialReport(9, "complete", None, {"math": 0.5}, 0.0625, 1, 4))
        assert progress.bar.n == 1 and progress.bar.total == 4
    last = stream.getvalue().split("\r")[-2]
    assert "1/4" in last and "math=0.5" in last and "hv=0.0625" in last


def test_format_value():
    assert format_value(0.123456) == "0.1235"
    assert format_value(None) == "-" and format_value(float("nan")) == "-"
    assert format_value(3) == "3"
