"""Where the files mmmo ships beside its code are: search-space presets and objective tasks.

In a checkout they live at the top of the repository (``search_spaces/``,
``objectives/``), where users read and edit them. A wheel carries copies
inside the package (``mmmo/_data/``, written at build time by ``setup.py``),
so an installed mmmo, or a Ray worker image, finds them without the
checkout. The packaged copy wins when both exist.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
PACKAGED_DATA = _PACKAGE / "_data"
REPO_ROOT = _PACKAGE.parent

# The top-level folders a wheel ships, by the name they have in both places.
SHIPPED_FOLDERS = ("search_spaces", "objectives")


def shipped_folder(name: str) -> Path:
    """The folder ``name`` (one of :data:`SHIPPED_FOLDERS`): the packaged copy, else the checkout's."""
    if name not in SHIPPED_FOLDERS:
        raise ValueError(f"{name!r} is not a shipped folder; they are {SHIPPED_FOLDERS}")
    packaged = PACKAGED_DATA / name
    return packaged if packaged.is_dir() else REPO_ROOT / name


def presets_dir() -> Path:
    """The search-space presets (``space: dare_ties`` reads ``dare_ties.yaml`` here)."""
    return shipped_folder("search_spaces")


def zoo_tasks_dir() -> Path:
    """The demo zoo's lm-eval task files and their JSONL splits (an ``include_path``)."""
    return shipped_folder("objectives") / "zoo"
