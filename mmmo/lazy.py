"""Packages whose public names are imported on first use.

A package that re-exports names from heavy modules (torch, transformers) but
is also imported for something light (the CLI registering a command, the
settings of a zoo) gives its ``__getattr__`` from here, so importing the
package itself costs nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__``: ``name`` comes from the submodule ``package.<homes[name]>``."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{home}"), name)

    return __getattr__
