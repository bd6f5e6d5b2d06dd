"""Loading a pool in two steps: describe every model from headers, then hold or map it.

:func:`describe_pool` reads configs, safetensors headers and the (small) LoRA
adapters only, checks that every source fits the base (architecture, tensor
names, shapes), and sizes each storage mode. :func:`build_task_vectors` then
reads the tensors, held or mapped as the chosen mode says. So a mismatch or a
mode that cannot fit is reported before a model-sized read.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from mmmo.errors import SourceError
from mmmo.sources.checkpoint import check_model_dir, is_adapter_dir, load_state, weight_files
from mmmo.sources.lora import LoraFactors, adapter_delta, lora_factors
from mmmo.sources.mapped import MappedCheckpoint, header_entries
from mmmo.sources.storage_choice import StorageNeeds
from mmmo.sources.task_vectors import COMPUTE_DTYPE, MappedBase, SourceTensors, TaskVectors


@dataclass(frozen=True)
class SourceDescription:
    """One source before loading: an in-memory module, a checkpoint, or an adapter."""

    name: str
    kind: str  # "module", "checkpoint" or "adapter"
    path: Path | None = None
    module: nn.Module | None = None
    files: tuple[Path, ...] = ()
    factors: dict[str, LoraFactors] | None = None  # a plain LoRA adapter's

    @property
    def role(self) -> str:
        return f"source {self.name!r}"


@dataclass(frozen=True)
class PoolDescription:
    """The base and sources, checked against each other, with the sizes of each storage mode."""

    config: Any
    base_path: Path | None
    base_module: nn.Module | None
    base_files: tuple[Path, ...]
    shapes: dict[str, torch.Size]
    sources: tuple[SourceDescription, ...]
    needs: StorageNeeds

    @property
    def can_map(self) -> bool:
        return self.base_module is None and all(s.kind != "module" for s in self.sources)

    @property
    def source_paths(self) -> dict[str, Path | None]:
        return {s.name: s.path for s in self.sources}


def describe_pool(
    base: Any, named: Mapping[str, Any], dtype: torch.dtype, trust_remote_code: bool = False
) -> PoolDescription:
    """Check every model against the base from configs and headers; size each storage mode."""
    if isinstance(base, nn.Module):
        config = getattr(base, "config", None)
        if config is None:
            raise SourceError("base: an in-memory base must be a transformers model (it has no .config)")
        base_path, base_files = None, ()
        shapes = {name: param.shape for name, param in _float_parameters(base)}
    else:
        base_path = check_model_dir(Path(base), "base")
        if is_adapter_dir(base_path):
            raise SourceError(f"base: {str(base_path)!r} is a PEFT adapter; the base must be a full checkpoint")
        config = load_config(base_path, "base", trust_remote_code)
        base_files = tuple(weight_files(base_path, "base"))
        entries = header_entries(list(base_files), "base")
        shapes = {name: e.shape for name, e in entries.items() if e.dtype.is_floating_point}
    sources = []
    for name, source in named.items():
        role = f"source {name!r}"
        if isinstance(source, nn.Module):
            check_architecture(getattr(source, "config", None), config, role)
            sources.append(SourceDescription(name, "module", module=source))
            continue
        path = check_model_dir(Path(source), role)
        if is_adapter_dir(path):
            sources.append(SourceDescription(name, "adapter", path=path, factors=lora_factors(path, role, shapes)))
            continue
        check_architecture(load_config(path, role, trust_remote_code), config, role)
        files = tuple(weight_files(path, role))
        entries = header_entries(list(files), role)
        check_shapes({n: e.shape for n, e in entries.items() if e.dtype.is_floating_point}, shapes, role)
        sources.append(SourceDescription(name, "checkpoint", path=path, files=files))
    size = torch.empty((), dtype=dtype).element_size()
    model = sum(s.numel() for s in shapes.values()) * size
    held = sum(model for s in sources if s.kind != "adapter")
    factors = sum(
        model if s.factors is None else sum(f.nbytes for f in s.factors.values())
        for s in sources
        if s.kind == "adapter"
    )
    largest = max((s.numel() for s in shapes.values()), default=0)
    work = (len(sources) + 2) * largest * torch.empty((), dtype=COMPUTE_DTYPE).element_size()
    needs = StorageNeeds(model=model, held_sources=held, factors=factors, work=work)
    base_module = base if isinstance(base, nn.Module) else None
    return PoolDescription(config, base_path, base_module, base_files, shapes, tuple(sources), needs)


def build_task_vectors(
    pool: PoolDescription, mode: str, dtype: torch.dtype, make_base_model: Callable[[], nn.Module]
) -> TaskVectors:
    """Read the tensors: held in ``dtype`` (``resident``) or mapped (``mmap``)."""
    mapped: list[MappedCheckpoint] = []
    if pool.base_module is not None:
        base: Mapping[str, Tensor] = dict(_float_parameters(pool.base_module, dtype))
    elif mode == "resident":
        base = {k: v for k, v in load_state(pool.base_path, "base", dtype).items() if v.is_floating_point()}
    else:
        checkpoint = MappedCheckpoint(list(pool.base_files), "base")
        mapped.append(checkpoint)
        base = MappedBase(checkpoint, tuple(pool.shapes), dtype)
    check_finite(base, "base")
    # 16-bit pools hold source weights, not 16-bit differences (see task_vectors).
    held_kind = "delta" if dtype == COMPUTE_DTYPE else "weights"
    sources: dict[str, SourceTensors] = {}
    held_bytes = sum(t.numel() * t.element_size() for t in base.values()) if mode == "resident" else 0
    for source in pool.sources:
        if source.kind == "adapter" and source.factors is not None:
            sources[source.name] = SourceTensors("factors", dtype, factors=source.factors)
            held_bytes += sum(f.nbytes for f in source.factors.values())
            continue
        if source.kind == "adapter":
            state = adapter_delta(source.path, source.role, make_base_model, base)
            check_finite(state, source.role)
            sources[source.name] = SourceTensors("delta", dtype, held=state)
        elif mode == "mmap" and source.kind == "checkpoint":
            checkpoint = MappedCheckpoint(list(source.files), source.role)
            mapped.append(checkpoint)
            check_finite({n: checkpoint.tensor(n) for n in pool.shapes}, source.role)
            sources[source.name] = SourceTensors("weights", dtype, mapped=checkpoint)
            continue
        else:
            if source.kind == "module":
                state = dict(_float_parameters(source.module, dtype))
            else:
                state = {k: v for k, v in load_state(source.path, source.role, dtype).items() if v.is_floating_point()}
            check_shapes({n: t.shape for n, t in state.items()}, pool.shapes, source.role)
            check_finite(state, source.role)
            if held_kind == "delta":
                for name, tensor in state.items():
                    tensor.sub_(base[name])
            state = {name: state[name] for name in pool.shapes}
            sources[source.name] = SourceTensors(held_kind, dtype, held=state)
        held_bytes += sum(t.numel() * t.element_size() for t in state.values())
    return TaskVectors(mode, dict(pool.shapes), dtype, base, sources, tuple(mapped), held_bytes)


def _float_parameters(module: nn.Module, dtype: torch.dtype | None = None):
    """``(name, tensor)`` of a module's float parameters; tied aliases appear once."""
    for name, param in module.named_parameters(remove_duplicate=True):
        if param.is_floating_point():
            yield name, (param if dtype is None else param.detach().to("cpu", dtype).clone())


def load_config(path: Path, role: str, trust_remote_code: bool = False) -> Any:
    from transformers import AutoConfig

    if not (path / "config.json").is_file():
        raise SourceError(f"{role}: no config.json in {str(path)!r}")
    try:
        return AutoConfig.from_pretrained(str(path), local_files_only=True, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError) as error:
        raise SourceError(f"{role}: cannot read config.json in {str(path)!r}: {error}") from error


def _architecture(config: Any) -> tuple[str, tuple[str, ...]]:
    return getattr(config, "model_type", ""), tuple(getattr(config, "architectures", None) or ())


def check_architecture(config: Any, base_config: Any, role: str) -> None:
    if config is None:
        return
    theirs, ours = _architecture(config), _architecture(base_config)
    if theirs[0] != ours[0] or (theirs[1] and ours[1] and theirs[1] != ours[1]):
        raise SourceError(
            f"{role}: architecture mismatch: model_type {theirs[0]!r} {list(theirs[1])}, "
            f"base is {ours[0]!r} {list(ours[1])}"
        )


def check_shapes(shapes: Mapping[str, torch.Size], base_shapes: Mapping[str, torch.Size], role: str) -> None:
    """A source's float tensors are exactly the base's, shape for shape."""
    extra = sorted(set(shapes) - set(base_shapes))
    if extra:
        hint = " (the base ties its output head to the embeddings)" if "lm_head.weight" in extra else ""
        raise SourceError(f"{role}: has tensor {extra[0]!r} that the base lacks{hint}")
    for name, shape in base_shapes.items():
        theirs = shapes.get(name)
        if theirs is None:
            raise SourceError(f"{role}: missing tensor {name!r}")
        if theirs != shape:
            raise SourceError(f"{role}: tensor {name!r} has shape {list(theirs)}, base has {list(shape)}")


def check_finite(state: Mapping[str, Tensor], role: str) -> None:
    for name in state:
        if not bool(torch.isfinite(state[name]).all()):
            raise SourceError(f"{role}: tensor {name!r} contains NaN or inf")


def instantiate(
    path: Path | None, module: nn.Module | None, config: Any, dtype: torch.dtype, trust_remote_code: bool = False
) -> nn.Module:
    if module is not None:
        return copy.deepcopy(module).to(dtype)
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(
        str(path), dtype=dtype, local_files_only=True, trust_remote_code=trust_remote_code
    )
