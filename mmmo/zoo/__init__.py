"""The demo zoo: a tiny Llama base and task experts, built offline on the CPU.

``build_zoo(ZooConfig())`` pretrains a character-level Llama model on generic
string primitives, fully fine-tunes one expert per synthetic exact-match task
from it, measures every model on every task, and caches the result as real HF
checkpoints (see :mod:`mmmo.zoo.build` for the folder layout).

Names are imported on first use, so the light modules shared with the real
zoo (settings, the cached build) load without torch.
"""

from __future__ import annotations

from mmmo.lazy import lazy_exports

_HOMES = {
    "Zoo": "build",
    "ZooTask": "build",
    "build_zoo": "build",
    "zoo_dir": "build",
    "ZooSplits": "data",
    "make_splits": "data",
    "ZOO_FORMAT_VERSION": "config",
    "ZooConfig": "config",
    "TASKS": "tasks",
    "VOCABULARY": "tasks",
    "StringTask": "tasks",
    "build_tokenizer": "tokenizer",
}

__all__ = sorted(_HOMES)

__getattr__ = lazy_exports(__name__, _HOMES)
