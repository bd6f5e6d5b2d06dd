"""Which task-vector storage a pool gets, decided from sizes before anything is loaded.

``storage: auto`` picks ``resident`` when the base, the K held sources and the
live model fit in a safe fraction of the available memory, else ``mmap``, and
logs the choice. A mode asked for explicitly that cannot fit is refused, with
the sizes, before a single tensor is read.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from mmmo.errors import SourceError

logger = logging.getLogger(__name__)

# Share of the available memory ``auto`` lets a resident pool take: the rest is
# for evaluation (activations, KV caches, tokenized data) and for the page
# cache, which a resident pool's first load and any other process still need.
SAFE_FRACTION = 0.6

STORAGE_MODES = ("resident", "mmap", "auto")


def available_memory() -> int:
    """Bytes of memory available to a new allocation (``MemAvailable``), or free pages as a fallback."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class StorageNeeds:
    """Process memory each storage mode would take, in bytes.

    Attributes:
        model: One model's merged tensors in the pool's dtype (the live model).
        held_sources: Full sources held by ``resident`` (K_full models).
        factors: LoRA factors and full-rank adapter updates, held in every mode.
        work: Float32 work buffers of one tensor's merge (base and K task vectors of the largest tensor).
    """

    model: int
    held_sources: int
    factors: int
    work: int

    @property
    def resident(self) -> int:
        # base + held sources + live model + adapters + work buffers
        return 2 * self.model + self.held_sources + self.factors + self.work

    @property
    def mmap(self) -> int:
        # live model + adapters + work buffers
        return self.model + self.factors + self.work

    def of(self, mode: str) -> int:
        return self.resident if mode == "resident" else self.mmap


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def choose_storage(requested: str, needs: StorageNeeds, available: int, can_map: bool) -> str:
    """``resident`` or ``mmap`` for a pool, or a :class:`SourceError` saying why neither fits.

    Args:
        requested: ``resident``, ``mmap`` or ``auto``.
        needs: What each mode would take.
        available: Bytes of memory available.
        can_map: Whether every model is a checkpoint on disk (in-memory modules cannot be mapped).
    """
    if requested not in STORAGE_MODES:
        raise SourceError(f"storage must be one of {list(STORAGE_MODES)}, got {requested!r}")
    if requested == "mmap" and not can_map:
        raise SourceError("storage 'mmap' needs every model as a checkpoint directory; an in-memory model was given")
    if requested == "auto":
        if not can_map or needs.resident <= SAFE_FRACTION * available:
            mode = "resident"
        else:
            mode = "mmap"
        logger.info(
            "storage auto: %s (resident would take %s, mmap %s; %s available, resident allowed up to %.0f%%)",
            mode, _gib(needs.resident), _gib(needs.mmap), _gib(available), SAFE_FRACTION * 100,
        )
    else:
        mode = requested
    if needs.of(mode) > available:
        hint = "; storage 'mmap' would take " + _gib(needs.mmap) if mode == "resident" and can_map else ""
        raise SourceError(
            f"storage {mode!r} does not fit: it needs {_gib(needs.of(mode))} "
            f"(model {_gib(needs.model)}, held sources {_gib(needs.held_sources)}, adapters "
            f"{_gib(needs.factors)}, work buffers {_gib(needs.work)}), {_gib(available)} available{hint}"
        )
    return mode
