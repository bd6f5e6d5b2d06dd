"""The ``manifest.json`` of a built zoo: written last, read first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mmmo.errors import ZooError

#: Its presence marks a zoo folder complete (see :mod:`mmmo.zoo.cached_build`).
MANIFEST = "manifest.json"


def read_manifest(root: Path, kind: str) -> dict[str, Any]:
    """The parsed manifest of the ``kind`` zoo (``"zoo"``, ``"real zoo"``) in ``root``.

    Raises:
        ZooError: it is missing or not JSON, naming the file.
    """
    path = root / MANIFEST
    if not path.is_file():
        raise ZooError(f"{path} not found: {root} is not a built {kind}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ZooError(f"{path} is not a {kind} manifest: {error}") from error


def manifest_scores(manifest: dict[str, Any], metric: str) -> dict[str, dict[str, float]]:
    """Model name -> task name -> ``metric`` as measured at build time."""
    return {
        model: {task: s[metric] for task, s in by_task.items()}
        for model, by_task in manifest["scores"].items()
    }


def write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest`` into ``root``: the last step of a build, marking it complete."""
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
