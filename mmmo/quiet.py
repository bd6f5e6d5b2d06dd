"""Quiet, honest output inside a campaign: mmmo's progress bar is the one a user watches.

The libraries a trial calls print as if each call were the user's only one:
transformers draws a "Loading weights" bar per model, lm-eval a bar per task
and request type per trial, and their warnings repeat every trial. Inside
:func:`quiet_libraries`:

- transformers' progress bars are off;
- a warning (Python ``warnings`` or a library's log record) is shown the first
  time only; repeats of the same text are dropped;
- :func:`progress_bars_dropped` hides what tqdm bars write to ``stderr`` while
  some call runs (lm-eval has no switch for the bar of its task loop), and
  passes every other line through.

Everything is restored on exit; nothing is changed at import.
"""

from __future__ import annotations

import io
import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

__all__ = ["progress_bars_dropped", "quiet_libraries"]

# Top-level loggers of the libraries a campaign calls; some keep handlers of their own.
LIBRARY_LOGGERS = (
    "transformers",
    "lm_eval",
    "lm-eval",
    "datasets",
    "huggingface_hub",
    "peft",
    "accelerate",
    "botorch",
    "gpytorch",
    "linear_operator",
)


class _Once(logging.Filter):
    """Lets a library warning's text through once; later records with the same text are dropped."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[str, int, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or record.levelno >= logging.ERROR:
            return True  # information the user asked for, and errors, always pass
        if record.name == "mmmo" or record.name.startswith("mmmo."):
            return True  # mmmo's own warnings are about this trial (a retry, a fallback): each one counts
        key = (record.name, record.levelno, record.getMessage())
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


@contextmanager
def quiet_libraries() -> Iterator[None]:
    """Library progress bars off and library warnings shown once, for the block's duration."""
    handlers = {handler for handler in logging.getLogger().handlers}
    for name in LIBRARY_LOGGERS:
        handlers.update(logging.getLogger(name).handlers)
    if logging.lastResort is not None:
        handlers.add(logging.lastResort)
    # One filter per handler: a record reaches several handlers, and each must show it once.
    filters = {handler: _Once() for handler in handlers}
    for handler, once in filters.items():
        handler.addFilter(once)
    shown: set[tuple[type, str]] = set()
    original_show = warnings.showwarning

    def show_once(message: Any, category: type, *args: Any, **kwargs: Any) -> None:
        # Keyed by text and category: libraries' own catch_warnings reset Python's
        # per-location registries, so the same warning would come back every trial.
        key = (category, str(message))
        if key not in shown:
            shown.add(key)
            original_show(message, category, *args, **kwargs)

    warnings.showwarning = show_once
    restore_bars = _transformers_bars_off()
    try:
        yield
    finally:
        restore_bars()
        if warnings.showwarning is show_once:
            warnings.showwarning = original_show
        for handler, once in filters.items():
            handler.removeFilter(once)


def _transformers_bars_off() -> Any:
    """Turn transformers' progress bars off; return what turns them back on."""
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:  # pragma: no cover - transformers is a dependency
        return lambda: None
    was_enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    return transformers_logging.enable_progress_bar if was_enabled else (lambda: None)


class _BarlessStream(io.TextIOBase):
    """A text stream that drops progress-bar writes (carriage-return redraws) and forwards the rest."""

    def __init__(self, target: TextIO) -> None:
        super().__init__()
        self.target = target
        self._in_bar = False

    def write(self, text: str) -> int:
        if "\r" in text or (self._in_bar and not text.strip()):
            self._in_bar = True  # a bar redraws with "\r" and ends with a bare newline
            return len(text)
        self._in_bar = False
        return self.target.write(text)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", None) or "utf-8"


@contextmanager
def progress_bars_dropped() -> Iterator[None]:
    """Drop tqdm bars written to ``sys.stderr`` inside the block; other output passes."""
    original = sys.stderr
    sys.stderr = _BarlessStream(original)
    try:
        yield
    finally:
        sys.stderr = original
