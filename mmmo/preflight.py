"""Checks that run before a campaign file exists, so a bad config never leaves one behind.

Everything that can be known without the full weights is checked here: each
model folder (a full checkpoint or a PEFT adapter with safetensors weights,
never a pickle), the base's HF config, every tensor's shape from the
safetensors headers (read with the ``safetensors`` library, weights untouched),
the objectives' data files parsed, ``callable`` objectives imported, the
device, and the extras the config needs. The first problem found is raised as
an :class:`~mmmo.errors.MmmoError` that names the field, file or tensor.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mmmo.config import CampaignConfig, ObjectiveSpec
from mmmo.errors import ConfigError, ObjectiveError, SourceError
from mmmo.fingerprints import adapter_base_name
from mmmo.sources.layout import layout_of_checkpoint
from mmmo.sources.checkpoint import ADAPTER_CONFIG, check_model_dir, is_adapter_dir, weight_files

__all__ = ["ModelsChecked", "check_device", "check_executor", "check_models", "check_objectives", "preflight"]

logger = logging.getLogger(__name__)

ADAPTER_WEIGHTS = "adapter_model.safetensors"
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


@dataclass(frozen=True)
class ModelsChecked:
    """What the model checks learned: the base's layer count and tensor shapes."""

    num_layers: int
    base_shapes: dict[str, tuple[int, ...]]


def preflight(config: CampaignConfig) -> ModelsChecked:
    """Every check of ``config`` that needs no weights; returns what the model checks learned."""
    check_device(config.device)
    check_executor(config)
    checked = check_models(config)
    check_objectives(config.objectives)
    return checked


def check_executor(config: CampaignConfig) -> None:
    """The Ray extra, when the config asks for Ray workers (the cluster itself is checked when the run starts)."""
    if config.executor.kind == "ray" and not _installed("ray"):
        raise ConfigError(
            "executor.kind: 'ray' needs Ray, which is not installed; install the extra: pip install 'mmmo[ray]'"
        )


def check_device(device: str) -> None:
    if device != "cuda":
        return
    import torch

    if not torch.cuda.is_available():
        raise ConfigError("device: 'cuda' was asked for, but torch sees no CUDA device; use 'auto' or 'cpu'")


def check_models(config: CampaignConfig) -> ModelsChecked:
    """The base and every source, from their config files and safetensors headers."""
    base = _check_base(config.base)
    base_shapes = _header_shapes(base, "base")
    for index, model in enumerate(config.models):
        role = f"source {model.display_name!r}"
        if not model.path.exists():
            raise SourceError(f"models.{index}.path: {model.path} does not exist")
        path = check_model_dir(model.path, role)
        if is_adapter_dir(path):
            _check_adapter(path, role, base)
            continue
        _read_hf_config(path, role)
        for name, shape in _header_shapes(path, role).items():
            if name in base_shapes and base_shapes[name] != shape:
                raise SourceError(
                    f"{role}: tensor {name!r} has shape {list(shape)} in {path}, base has {list(base_shapes[name])}"
                )
    layout = layout_of_checkpoint(base, trust_remote_code=config.trust_remote_code)
    return ModelsChecked(num_layers=layout.num_layers, base_shapes=base_shapes)


def _check_base(base: Path) -> Path:
    if not Path(base).expanduser().exists():
        raise SourceError(f"base: path {str(base)!r} does not exist")
    path = check_model_dir(base, "base")
    if is_adapter_dir(path):
        raise SourceError(
            f"base: {str(path)!r} is a PEFT adapter ({ADAPTER_CONFIG}), not a full checkpoint; "
            "name the model it was trained from as the base and the adapter as a source"
        )
    _read_hf_config(path, "base")
    return path


def _read_hf_config(path: Path, role: str) -> dict:
    file = path / "config.json"
    if not file.is_file():
        raise SourceError(f"{role}: no config.json in {str(path)!r}; a full HF checkpoint folder has one")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(f"{role}: {file} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise SourceError(f"{role}: {file} does not hold a JSON object")
    return data


def _header_shapes(path: Path, role: str) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape of every safetensors file of a checkpoint, weights unread."""
    from safetensors import safe_open

    shapes: dict[str, tuple[int, ...]] = {}
    for file in weight_files(path, role):
        try:
            with safe_open(str(file), framework="pt") as handle:
                for name in handle.keys():
                    shapes[name] = tuple(handle.get_slice(name).get_shape())
        except Exception as exc:  # safetensors raises several types for a bad header
            raise SourceError(f"{role}: cannot read the safetensors header of {str(file)!r}: {exc}") from None
    return shapes


def _check_adapter(path: Path, role: str, base: Path) -> None:
    try:
        config = json.loads((path / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(f"{role}: {path / ADAPTER_CONFIG} is not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise SourceError(f"{role}: {path / ADAPTER_CONFIG} does not hold a JSON object")
    weights = path / ADAPTER_WEIGHTS
    if not weights.is_file():
        pickles = sorted(p.name for p in path.iterdir() if p.suffix in _PICKLE_SUFFIXES)
        if pickles:
            raise SourceError(
                f"{role}: the adapter in {str(path)!r} has only pickle weights ({', '.join(pickles)}); "
                f"mmmo never unpickles (it can run code): save it as {ADAPTER_WEIGHTS}"
            )
        raise SourceError(f"{role}: the adapter in {str(path)!r} has no {ADAPTER_WEIGHTS}")
    _check_header(weights, role)  # the safetensors library also refuses a file cut short
    named = adapter_base_name(path)
    if named and not _same_model(named, base):
        logger.warning(
            "%s: the adapter in %s was trained on %r, but the campaign's base is %s",
            role, path, named, base,
        )


def _check_header(file: Path, role: str) -> None:
    from safetensors import safe_open

    try:
        with safe_open(str(file), framework="pt") as handle:
            list(handle.keys())
    except Exception as exc:
        raise SourceError(f"{role}: cannot read the safetensors header of {str(file)!r}: {exc}") from None


def _same_model(named: str, base: Path) -> bool:
    """Whether an adapter's ``base_model_name_or_path`` plausibly names ``base``.

    The same folder, a hub id whose last part is the base folder's name, or the
    name the base's own config records (``_name_or_path``).
    """
    candidate = Path(named).expanduser()
    if candidate.exists():
        try:
            return candidate.resolve() == Path(base).resolve()
        except OSError:
            return False
    if named.rstrip("/").rsplit("/", 1)[-1] == Path(base).name:
        return True
    try:
        recorded = json.loads((Path(base) / "config.json").read_text(encoding="utf-8")).get("_name_or_path")
    except (OSError, ValueError, AttributeError):
        return False
    return recorded == named


def check_objectives(specs: Sequence[ObjectiveSpec]) -> None:
    """Data files parsed, callables imported, extras installed; errors name the objective."""
    from mmmo.objectives.data import read_answer_rows, read_choice_rows, read_texts

    readers = {
        "exact_match": read_answer_rows,
        "token_accuracy": read_answer_rows,
        "answer_loglik": read_answer_rows,
        "choice_accuracy": read_choice_rows,
        "perplexity": read_texts,
    }
    for index, spec in enumerate(specs):
        where = f"objectives.{index} ({spec.resolved_name})"
        if spec.kind in readers:
            try:
                readers[spec.kind](spec.data)
            except UnicodeDecodeError as exc:
                raise ObjectiveError(f"{where}: {spec.data} is not UTF-8 text (byte {exc.start})") from None
        elif spec.kind == "callable":
            from mmmo.objectives.custom import import_function

            import_function(spec.function)
        elif spec.kind == "lm_eval":
            if not _installed("lm_eval"):
                raise ConfigError(
                    f"{where}: kind 'lm_eval' needs the lm-eval extra, which is not installed: "
                    "pip install 'mmmo[lm-eval]'"
                )
            if spec.include_path is not None and not spec.include_path.is_dir():
                raise ConfigError(f"{where}: include_path {spec.include_path} is not a folder")


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it (lm-eval takes seconds)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a finder that refuses it, or a module set to None
        return False
