"""Progress of a running campaign: a bar on a terminal, one line per trial in a log.

:class:`TrialProgress` is a ``Campaign.run`` callback; it shows the last
finished trial's scores and the current hypervolume.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mmmo.trial import TrialReport

__all__ = ["TrialProgress", "format_value"]


class TrialProgress:
    """Shows each finished trial: a tqdm bar on a terminal, one line per trial otherwise.

    Pass an instance as ``Campaign.run(callback=...)``; the postfix holds the
    last trial's scores and the current hypervolume.
    """

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.bar: Any = None
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())

    def __enter__(self) -> TrialProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()

    @staticmethod
    def summary(report: TrialReport) -> dict[str, str]:
        """The last trial's scores (or its failure) and the current hypervolume."""
        scores = {name: format_value(value) for name, value in report.values.items()}
        if report.status != "complete":
            lines = (report.error or "").strip().splitlines()
            scores = {"failed": lines[-1] if lines else "(no message)"}
        if report.hypervolume is not None:
            scores["hv"] = format_value(report.hypervolume)
        return scores

    def __call__(self, report: TrialReport) -> None:
        postfix = self.summary(report)
        if not self.interactive:
            fields = "  ".join(f"{k}={v}" for k, v in postfix.items())
            where = f"reference {report.label}" if report.label else f"trial {report.done}/{report.total}"
            print(f"{where} (#{report.trial_id})  {fields}", file=self.stream, flush=True)
            return
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=report.total, unit="trial", file=self.stream, dynamic_ncols=True)
        self.bar.total = report.total
        self.bar.n = report.done
        if report.label is not None:
            postfix = {"reference": report.label, **postfix}
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.refresh()


def format_value(value: Any) -> str:
    """Four significant digits; ``-`` for a missing or non-finite value."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
