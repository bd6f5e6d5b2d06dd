"""Reading a local Hugging Face checkpoint directory (safetensors, sharded or not).

Nothing here downloads: a path that is not a directory with a ``config.json``
and safetensors weights is a :class:`~mmmo.errors.SourceError` naming it.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import Tensor

from mmmo.errors import SourceError

SINGLE_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
# Dtypes mmmo merges into; a checkpoint's own dtype must be one of them for ``dtype: auto``.
MERGE_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
SHARD_INDEX = "model.safetensors.index.json"
ADAPTER_CONFIG = "adapter_config.json"


def is_adapter_dir(path: Path) -> bool:
    """Whether ``path`` is a PEFT adapter directory (it has ``adapter_config.json``)."""
    return (path / ADAPTER_CONFIG).is_file()


def check_model_dir(path: Path, role: str) -> Path:
    """Resolve ``path`` and check it exists; ``role`` names it in errors ("base", "source 'math'")."""
    path = Path(path).expanduser()
    if not path.exists():
        raise SourceError(f"{role}: path {str(path)!r} does not exist")
    if not path.is_dir():
        raise SourceError(f"{role}: {str(path)!r} is not a directory")
    return path.resolve()


def weight_files(path: Path, role: str) -> list[Path]:
    """The safetensors files of a checkpoint directory, shards in index order."""
    index = path / SHARD_INDEX
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (ValueError, KeyError) as error:
            raise SourceError(f"{role}: malformed shard index {str(index)!r}: {error}") from error
        files = [path / name for name in dict.fromkeys(weight_map.values())]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise SourceError(f"{role}: shard(s) listed in {str(index)!r} are missing: {missing}")
        return files
    single = path / SINGLE_FILE
    if single.is_file():
        return [single]
    raise SourceError(
        f"{role}: no {SINGLE_FILE} or {SHARD_INDEX} in {str(path)!r} "
        "(only safetensors checkpoints are read)"
    )


def load_state(path: Path, role: str, dtype: torch.dtype) -> dict[str, Tensor]:
    """All tensors of a checkpoint directory in process memory; float tensors cast to ``dtype``.

    Non-float tensors keep their dtype. ``safetensors`` hands out tensors that
    are views of the mapped file; each is copied, so what is held stays valid
    (and in memory) whatever later happens to the file: a read of a mapped
    file truncated since would kill the process.
    """
    state: dict[str, Tensor] = {}
    for file in weight_files(path, role):
        try:
            part = load_file(str(file), device="cpu")
        except Exception as error:  # safetensors raises several types for a bad file
            raise SourceError(f"{role}: cannot read {str(file)!r}: {error}") from error
        for name, tensor in part.items():
            state[name] = tensor.to(dtype if tensor.is_floating_point() else tensor.dtype, copy=True)
    return state


def checkpoint_dtype(path: Path, role: str = "base") -> torch.dtype:
    """The dtype a checkpoint was saved in: ``dtype`` (or the older ``torch_dtype``) of its config.json.

    A config that records none is float32, as transformers assumes.

    Raises:
        SourceError: The config is missing or unreadable, or records a dtype
            mmmo does not merge in (naming the file, the field and the value).
    """
    config_file = Path(path) / CONFIG_FILE
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as error:
        raise SourceError(f"{role}: cannot read {str(config_file)!r}: {error}") from None
    text_config = config.get("text_config") if isinstance(config.get("text_config"), dict) else {}
    for field in ("dtype", "torch_dtype"):
        value = config.get(field, text_config.get(field))
        if value is None:
            continue
        dtype = MERGE_DTYPES.get(str(value).removeprefix("torch."))
        if dtype is None:
            raise SourceError(
                f"{role}: {str(config_file)!r} field {field!r} is {value!r}, not a dtype mmmo merges in "
                f"({', '.join(MERGE_DTYPES)}); set 'dtype' in the campaign config"
            )
        return dtype
    return torch.float32
