"""Export of a merge plan as a normal Hugging Face checkpoint.

The directory holds the merged weights (safetensors) and config, the base's
tokenizer, ``merge_plan.json`` (the plan, reloadable with
``MergePlan.from_dict``) and, when the method exists in mergekit and every
model is on disk (a checkpoint, or a PEFT adapter written as mergekit's
``base+adapter``), ``mergekit.yaml``: running mergekit on it reproduces the
weights for deterministic methods. When it cannot be written, the log says why.

Export never destroys a model: the checkpoint is written into a temporary
folder beside the target and renamed into place once complete, an existing
non-empty target is refused unless ``overwrite`` (which then replaces the
whole folder, so no stale shard or index survives), and a folder that holds,
or lies inside, one of the pool's models is refused always.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from mmmo.errors import ExportError, MergeError
from mmmo.merge.methods import get_method
from mmmo.plan import MergePlan

if TYPE_CHECKING:
    from mmmo.merge.merger import Merger

PLAN_FILE = "merge_plan.json"
MERGEKIT_FILE = "mergekit.yaml"

log = logging.getLogger(__name__)


def check_export_target(out_dir: Path, models: Iterable[Path | None], overwrite: bool = False) -> None:
    """Refuse a target that is a file, overlaps a model folder, or is not empty without ``overwrite``."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"{out_dir}: exists and is not a folder; choose a folder to export into")
    existing = next((p for p in out_dir.absolute().parents if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise ExportError(f"{existing}: exists and is not a folder; {out_dir} cannot be made inside it")
    target = out_dir.resolve()
    for model in models:
        if model is None:
            continue
        folder = Path(model).resolve()
        if target == folder or folder in target.parents or target in folder.parents:
            raise ExportError(
                f"{out_dir}: holds or lies inside the model folder {model}; export elsewhere "
                f"(mmmo never writes into a campaign's models)"
            )
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise ExportError(f"{out_dir}: the folder is not empty; choose another, or pass --overwrite (overwrite=True)")


def export_plan(merger: Merger, plan: MergePlan, out_dir: Path, overwrite: bool = False) -> Path:
    """Merge ``plan`` into ``merger.model`` and save it to ``out_dir``; return ``out_dir``.

    The live model keeps the plan's weights afterwards. See the module docs
    for what is refused and how the folder is replaced.
    """
    out_dir = Path(out_dir)
    pool = merger.pool
    check_export_target(out_dir, [pool.base_path, *pool.source_paths.values()], overwrite)
    merger.apply(plan)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
    try:
        _write_checkpoint(merger, plan, staging)
        _move_into_place(staging, out_dir)
    except OSError as exc:
        raise ExportError(f"{out_dir}: the export could not be written ({exc.strerror or exc})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def _write_checkpoint(merger: Merger, plan: MergePlan, out_dir: Path) -> None:
    merger.model.save_pretrained(str(out_dir))
    if merger.tokenizer is not None:
        merger.tokenizer.save_pretrained(str(out_dir))
    (out_dir / PLAN_FILE).write_text(json.dumps(plan.to_dict(), indent=2) + "\n")
    pool = merger.pool
    in_memory = [name for name in plan.sources if pool.source_paths[name] is None]
    if get_method(plan.method).mergekit_name is None:
        log.info("no %s written: method %r has no mergekit equivalent", MERGEKIT_FILE, plan.method)
    elif pool.base_path is None or in_memory:
        log.info("no %s written: in-memory models have no path mergekit could read (%s)",
                 MERGEKIT_FILE, ", ".join(in_memory) or "the base")
    else:
        from mmmo.merge.mergekit_config import mergekit_yaml

        paths = {n: pool.source_paths[n] for n in plan.sources}
        dtype = str(merger.model.dtype).removeprefix("torch.")
        try:
            text = mergekit_yaml(plan, pool.base_path, paths, dtype=dtype, layout=pool.layout)
        except MergeError as exc:
            log.info("no %s written: %s", MERGEKIT_FILE, exc)
            return
        (out_dir / MERGEKIT_FILE).write_text(text)


def _move_into_place(staging: Path, out_dir: Path) -> None:
    """Rename ``staging`` to ``out_dir``; an existing ``out_dir`` is set aside first and removed after."""
    os.chmod(staging, 0o755)  # mkdtemp makes it private; an export is an ordinary folder
    if not out_dir.exists():
        os.rename(staging, out_dir)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent))
    os.rmdir(aside)
    os.rename(out_dir, aside)
    try:
        os.rename(staging, out_dir)
    except OSError:
        os.rename(aside, out_dir)  # put the old folder back
        raise
    shutil.rmtree(aside, ignore_errors=True)

