"""What the demo and real zoo settings share: task lists, plain dict and cache key."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any


class ZooSettings:
    """Mixin of a frozen zoo-settings dataclass with ``expert_tasks`` and ``held_out_tasks``.

    The cache key hashes every setting with the zoo's format version, so any
    changed setting, or a new format, names a different cache folder.
    """

    expert_tasks: tuple[str, ...]
    held_out_tasks: tuple[str, ...]

    def _freeze_tuples(self, *names: str) -> None:
        """Turn a string or list given for a tuple field into a tuple.

        A list would make the config unhashable and the key unstable.
        """
        for name in names:
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, tuple):
                object.__setattr__(self, name, tuple([value] if isinstance(value, str) else value))

    @property
    def tasks(self) -> tuple[str, ...]:
        """Every evaluated task: experts' first, then held-out ones."""
        return self.expert_tasks + self.held_out_tasks

    def to_dict(self) -> dict[str, Any]:
        """Every setting, tuples as lists (JSON's shape)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def _settings_hash(self, format_version: int) -> str:
        """16 hex digits of a hash of every setting and ``format_version``."""
        payload = json.dumps({"format": format_version, "config": self.to_dict()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]
