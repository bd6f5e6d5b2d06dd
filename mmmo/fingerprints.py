"""Model fingerprints: notice that a base or source folder changed after a campaign began.

A campaign's results are only comparable while its models stay the same. At
creation the store keeps a fingerprint of the base and of every source; resume
and export compare the folders with it and refuse a changed model (naming it)
unless the user accepts the change.

A fingerprint is cheap enough for 8B checkpoints: for every file at the top of
the folder its size and modification time, and for each safetensors file a
SHA-256 of its header (tensor names, dtypes, shapes and offsets; the first 8
bytes give the header's length), so the weights themselves are never read.
A PEFT adapter's ``base_model_name_or_path`` is kept too.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mmmo.errors import SourceError

__all__ = ["ModelChangedError", "changed_models", "fingerprint_models", "model_fingerprint"]

# A safetensors header larger than this is not a real header (the format caps it at 100 MB).
_MAX_HEADER_BYTES = 100_000_000


class ModelChangedError(SourceError):
    """A base or source folder differs from the one the campaign was created with."""


def safetensors_header(file: Path) -> bytes:
    """The raw JSON header of a safetensors file, read without its tensors."""
    with open(file, "rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise SourceError(f"{file}: truncated safetensors file (no header length)")
        (length,) = struct.unpack("<Q", prefix)
        if length > _MAX_HEADER_BYTES:
            raise SourceError(f"{file}: not a safetensors file (header length {length})")
        header = handle.read(length)
    if len(header) < length:
        raise SourceError(f"{file}: truncated safetensors file (header cut short)")
    return header


def model_fingerprint(path: Path) -> dict[str, Any]:
    """``{"files": {name: {"size", "mtime_ns"[, "header_sha256"]}}, "adapter_base": str | None}``."""
    path = Path(path)
    files: dict[str, dict[str, Any]] = {}
    for file in sorted(path.iterdir()) if path.is_dir() else []:
        if file.name.startswith(".") or not file.is_file():
            continue
        info = file.stat()
        entry: dict[str, Any] = {"size": info.st_size, "mtime_ns": info.st_mtime_ns}
        if file.suffix == ".safetensors":
            try:
                entry["header_sha256"] = hashlib.sha256(safetensors_header(file)).hexdigest()
            except SourceError as exc:
                entry["header_sha256"] = f"unreadable: {exc}"
        files[file.name] = entry
    return {"files": files, "adapter_base": adapter_base_name(path)}


def adapter_base_name(path: Path) -> str | None:
    """The ``base_model_name_or_path`` a PEFT adapter's config names, if any."""
    config = Path(path) / "adapter_config.json"
    if not config.is_file():
        return None
    try:
        value = json.loads(config.read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, str) else None


def fingerprint_models(base: Path, sources: Mapping[str, Path]) -> dict[str, dict[str, Any]]:
    """Fingerprints keyed by role: ``"base"`` and ``"source 'NAME'"`` for each source."""
    prints = {"base": model_fingerprint(base)}
    for name, path in sources.items():
        prints[f"source {name!r}"] = model_fingerprint(path)
    return prints


def changed_models(
    stored: Mapping[str, Mapping[str, Any]], current: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """One line per model whose fingerprint differs: the role and what changed."""
    lines = []
    for role, before in stored.items():
        now = current.get(role)
        if now is None or now == before:
            continue
        old_files, new_files = before.get("files", {}), now.get("files", {})
        what = [f"{name} removed" for name in old_files if name not in new_files]
        what += [f"{name} added" for name in new_files if name not in old_files]
        for name in old_files:
            if name in new_files and old_files[name] != new_files[name]:
                keys = sorted(k for k in old_files[name] if old_files[name].get(k) != new_files[name].get(k))
                what.append(f"{name} ({', '.join(keys)} differ)")
        if before.get("adapter_base") != now.get("adapter_base"):
            what.append("adapter base_model_name_or_path")
        lines.append(f"{role}: {'; '.join(what) or 'changed'}")
    return lines
