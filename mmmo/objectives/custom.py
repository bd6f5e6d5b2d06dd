"""Any Python callable as an objective.

The callable's signature is ``f(model, tokenizer) -> float | Measurement``:
it receives the live merged model (weights of the trial being scored) and the
base's tokenizer, and returns a number or a full
:class:`~mmmo.objectives.base.Measurement`. A config names it as
``module:attribute``; the module is looked for in the config file's folder
first, then on ``PYTHONPATH``.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from mmmo.errors import ObjectiveError
from mmmo.objectives.base import Direction, Measurement
from mmmo.objectives.guard import checked, failure_text


class CallableObjective:
    """Wraps ``function(model, tokenizer)`` returning a number or a Measurement.

    A returned number becomes ``Measurement(value, n=0)`` timed here; a returned
    Measurement is kept (its ``seconds`` filled in when left at 0). Exceptions,
    NaN and out-of-memory become failed Measurements.
    """

    def __init__(self, name: str, function: Callable[[Any, Any], Any], direction: Direction = "maximize"):
        if not callable(function):
            raise ObjectiveError(f"objective {name!r}: {function!r} is not callable")
        if direction not in ("maximize", "minimize"):
            raise ObjectiveError(
                f"objective {name!r}: direction must be maximize or minimize, got {direction!r}"
            )
        self.name = name
        self.function = function
        self.direction: Direction = direction

    def evaluate(self, model: Any, tokenizer: Any) -> Measurement:
        start = time.perf_counter()
        try:
            result = self.function(model, tokenizer)
        except Exception as exc:  # noqa: BLE001 - every failure becomes data
            return Measurement.failure(failure_text(exc), time.perf_counter() - start)
        seconds = time.perf_counter() - start
        if isinstance(result, Measurement):
            if result.seconds == 0.0:
                result = Measurement(result.value, result.stderr, result.n, seconds, result.error)
            return checked(result, seconds)
        try:
            value = float(result)
        except (TypeError, ValueError):
            return Measurement.failure(
                f"{self.name}: returned {type(result).__name__}, not a number", seconds
            )
        return checked(Measurement(value=value, seconds=seconds), seconds)


def import_function(reference: str, folder: str | Path | None = None) -> Callable[..., Any]:
    """The object named by ``"package.module:attribute"`` (dots allowed after the colon).

    The module is imported from ``folder`` when it is there (a ``module.py``
    or a package folder), else from ``sys.path`` (``PYTHONPATH``).
    """
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ObjectiveError(f"function must look like 'module:attribute', got {reference!r}")
    try:
        target: Any = _import_module(module_name, Path(folder) if folder is not None else None)
    except ImportError as exc:
        where = f"in {folder} or " if folder is not None else ""
        raise ObjectiveError(
            f"function {reference!r}: cannot import module {module_name!r} ({where}on PYTHONPATH): {exc}"
        ) from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ObjectiveError(f"function {reference!r}: {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ObjectiveError(f"function {reference!r} is not callable")
    return target


def _import_module(name: str, folder: Path | None) -> ModuleType:
    top = name.split(".", 1)[0]
    beside = folder is not None and ((folder / f"{top}.py").is_file() or (folder / top / "__init__.py").is_file())
    if not beside or top in sys.modules:
        return importlib.import_module(name)
    # The folder is on the path for this import only: the library leaves sys.path as it found it.
    entry = str(folder)
    sys.path.insert(0, entry)
    try:
        importlib.invalidate_caches()
        return importlib.import_module(name)
    finally:
        sys.path.remove(entry)
