"""Reading and checking an objective's data file, once, when it is built.

A malformed file is refused here with an :class:`~mmmo.errors.ObjectiveError`
that names the file and the line, so a campaign never starts on data that
would fail in its hundredth trial.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from mmmo.errors import ObjectiveError

T = TypeVar("T")


def read_jsonl(
    path: str | Path,
    fields: dict[str, tuple[type, ...]],
    check: Callable[[dict[str, Any]], str | None] | None = None,
) -> list[dict[str, Any]]:
    """Rows of a JSONL file, each checked to carry ``fields`` with the given types.

    Blank lines are skipped. ``check`` returns a complaint about a row (or
    ``None``) once its fields are known to be there. Raises
    :class:`ObjectiveError` naming the file and the 1-based line for a missing
    file, an empty file, a line that is not a JSON object, a missing field, a
    field of the wrong type or a row ``check`` refuses.
    """
    path = Path(path)
    if not path.is_file():
        raise ObjectiveError(f"{path}: data file not found")
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ObjectiveError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise ObjectiveError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
            for field, types in fields.items():
                if field not in row:
                    raise ObjectiveError(f"{path}:{number}: missing field {field!r}")
                # bool is an int subclass; a gold index of `true` is a mistake, not 1.
                value = row[field]
                if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                    expected = " or ".join(t.__name__ for t in types)
                    raise ObjectiveError(
                        f"{path}:{number}: field {field!r} must be {expected}, got {type(value).__name__}"
                    )
            complaint = check(row) if check is not None else None
            if complaint:
                raise ObjectiveError(f"{path}:{number}: {complaint}")
            rows.append(row)
    if not rows:
        raise ObjectiveError(f"{path}: data file is empty")
    return rows


def read_answer_rows(path: str | Path) -> list[tuple[str, str]]:
    """``(prompt, answer)`` pairs of a JSONL file with string fields ``prompt`` and ``answer``."""
    rows = read_jsonl(path, {"prompt": (str,), "answer": (str,)})
    return [(row["prompt"], row["answer"]) for row in rows]


def read_choice_rows(path: str | Path) -> list[tuple[str, list[str], int]]:
    """``(prompt, choices, gold)`` triples; ``gold`` must index ``choices``."""

    def check(row: dict[str, Any]) -> str | None:
        choices, gold = row["choices"], row["gold"]
        if len(choices) < 2 or not all(isinstance(c, str) for c in choices):
            return "field 'choices' must be a list of at least two strings"
        if not 0 <= gold < len(choices):
            return f"gold index {gold} is outside 0..{len(choices) - 1}"
        return None

    rows = read_jsonl(path, {"prompt": (str,), "choices": (list,), "gold": (int,)}, check)
    return [(row["prompt"], list(row["choices"]), row["gold"]) for row in rows]


def read_texts(path: str | Path) -> list[str]:
    """Documents for perplexity: the ``text`` field of each line of a ``.jsonl``
    file, or the whole of any other file as one document."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return [row["text"] for row in read_jsonl(path, {"text": (str,)})]
    if not path.is_file():
        raise ObjectiveError(f"{path}: data file not found")
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise ObjectiveError(f"{path}: data file is empty")
    return [text]


def subsample(items: Sequence[T], limit: int | None, seed: int = 0) -> list[T]:
    """``limit`` items drawn without replacement, the same ones for the same seed,
    kept in file order; all items when ``limit`` is ``None`` or not smaller."""
    if limit is not None and limit <= 0:
        raise ObjectiveError(f"limit must be positive, got {limit}")
    if limit is None or limit >= len(items):
        return list(items)
    keep = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in keep]


def subsample_indices(count: int, limit: int | None, seed: int = 0) -> list[int]:
    """The indices :func:`subsample` keeps from ``count`` items."""
    return subsample(range(count), limit, seed)


def example_order(count: int, seed: int | str = 0) -> list[int]:
    """A fixed, seeded order of ``count`` examples (a permutation of ``range(count)``).

    Scoring at a fidelity takes a prefix of it (:func:`fidelity_count`), so the
    examples of a lower fidelity are always among those of a higher one and a
    promotion scores only the examples it adds.
    """
    order = list(range(count))
    random.Random(seed).shuffle(order)
    return order


def fidelity_count(count: int, fidelity: float) -> int:
    """Examples scored at ``fidelity`` out of ``count``: ``ceil(fidelity * count)``, at least 1."""
    if not 0.0 < fidelity <= 1.0:
        raise ObjectiveError(f"fidelity must be in (0, 1], got {fidelity}")
    # The small tolerance keeps 0.3 * 10 at 3, not 4, despite 0.3 * 10 = 3.0000000000000004.
    return max(1, min(count, math.ceil(fidelity * count - 1e-9)))
