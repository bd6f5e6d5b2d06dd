"""Where mmmo keeps what it builds once: the demo zoo, compiled kernels, HF files.

The default is ``.cache/`` at the project root when mmmo runs from a checkout
(so a clone keeps its caches beside it, ignored by git), else
``~/.cache/mmmo``; ``MMMO_CACHE`` overrides both. ``HF_HOME`` and
``TORCH_EXTENSIONS_DIR`` default to folders inside it, so BoTorch's kernel is
compiled once per machine and nothing is ever looked up on a hub.
"""

from __future__ import annotations

import os
from pathlib import Path

_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """The root of mmmo's caches (created on first use)."""
    override = os.environ.get("MMMO_CACHE")
    if override:
        root = Path(override)
    elif (_PROJECT_ROOT / "pyproject.toml").is_file():
        root = _PROJECT_ROOT / ".cache"
    else:
        root = Path.home() / ".cache" / "mmmo"
    root.mkdir(parents=True, exist_ok=True)
    return root


def configure_environment() -> None:
    """Point HF and torch extension caches inside :func:`cache_dir`, offline.

    Only sets variables the user has not set.
    """
    root = cache_dir()
    os.environ.setdefault("HF_HOME", str(root / "hf"))
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(root / "torch_extensions"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
