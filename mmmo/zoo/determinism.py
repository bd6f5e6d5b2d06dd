"""Reproducible training: deterministic kernels and per-stage seeds."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def deterministic() -> Iterator[None]:
    """Deterministic kernels on one thread, restored afterwards.

    One thread keeps the reduction order of every kernel fixed (so the bits do
    not depend on the machine's core count), and for a model this small it is
    no slower than two: its matrices are too small to split well, and on a
    busy shared machine a second thread mostly waits for a core.
    """
    previous = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0])
        torch.set_num_threads(previous[1])


def sub_seed(seed: int, purpose: str) -> int:
    """A seed for one stage, stable across Python runs (unlike ``hash``)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{purpose}".encode()).digest()[:4], "little")
