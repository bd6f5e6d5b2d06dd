"""Export of a merge plan as a normal Hugging Face checkpoint.

The directory holds the merged weights (safetensors) and config, the base's
tokenizer, ``merge_plan.json`` (the plan, reloadable with
``MergePlan.from_dict``) and, when the method exists in mergekit and every
model is a full checkpoint on disk, ``mergekit.yaml``: running mergekit on it
reproduces the weights for deterministic methods.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from mmmo.merge.methods import get_method
from mmmo.plan import MergePlan
from mmmo.sources.checkpoint import is_adapter_dir

if TYPE_CHECKING:
    from mmmo.merge.merger import Merger

PLAN_FILE = "merge_plan.json"
MERGEKIT_FILE = "mergekit.yaml"


def export_plan(merger: Merger, plan: MergePlan, out_dir: Path) -> Path:
    """Merge ``plan`` into ``merger.model`` and save it to ``out_dir``; return ``out_dir``.

    The live model keeps the plan's weights afterwards.
    """
    merger.apply(plan)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    merger.model.save_pretrained(str(out_dir))
    if merger.tokenizer is not None:
        merger.tokenizer.save_pretrained(str(out_dir))
    (out_dir / PLAN_FILE).write_text(json.dumps(plan.to_dict(), indent=2) + "\n")
    pool = merger.pool
    on_disk = pool.base_path is not None and all(
        pool.source_paths[name] is not None and not is_adapter_dir(pool.source_paths[name])
        for name in plan.sources
    )
    if get_method(plan.method).mergekit_name is not None and on_disk:
        from mmmo.merge.mergekit_config import mergekit_yaml

        paths = {n: pool.source_paths[n] for n in plan.sources}
        dtype = str(merger.model.dtype).removeprefix("torch.")
        text = mergekit_yaml(plan, pool.base_path, paths, dtype=dtype, layout=pool.layout)
        (out_dir / MERGEKIT_FILE).write_text(text)
    return out_dir
