"""Where mmmo keeps what it builds once: the demo zoo, compiled kernels, lm-eval task copies.

The default is ``.cache/`` at the project root when mmmo runs from a checkout
(so a clone keeps its caches beside it, ignored by git), else
``~/.cache/mmmo``; ``MMMO_CACHE`` overrides both. Everything mmmo writes there
it writes by passing this folder explicitly: importing or using the library
never changes the process's environment, so a user's own Hugging Face cache,
offline setting and hub models stay as they are. Only the ``mmmo`` command
sets defaults, for its own process (:func:`configure_cli_environment`).
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


# Defaults of the command line's own process; a variable the user has set is kept.
CLI_DEFAULTS = {
    # transformers' advice on generation settings repeats every trial and is not the user's to act on.
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    # Tokenizers' thread pool warns when torch forks data workers; mmmo tokenizes once, up front.
    "TOKENIZERS_PARALLELISM": "false",
}


def configure_cli_environment() -> None:
    """Set :data:`CLI_DEFAULTS` where the user has not; called by the ``mmmo`` command only."""
    for key, value in CLI_DEFAULTS.items():
        os.environ.setdefault(key, value)
