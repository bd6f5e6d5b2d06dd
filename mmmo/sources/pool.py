"""The model pool: a base model and K sources, held as base weights plus task vectors.

Each source is a local HF checkpoint directory, a PEFT adapter directory, or an
in-memory ``nn.Module``. Its task vector ``delta_k = theta_k - theta_base`` is
computed once, here, for every floating-point parameter of the base. Non-float
tensors and buffers are not merged: the live model keeps the base's. Tied
embeddings stay tied because a tied output head is not a tensor of its own
(it is absent from the checkpoint, and an alias in an in-memory module).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from mmmo.errors import SourceError
from mmmo.sources.checkpoint import check_model_dir, is_adapter_dir, load_state
from mmmo.sources.layout import TensorLayout
from mmmo.sources.lora import adapter_delta

ModelInput = str | Path | nn.Module


def _module_state(module: nn.Module, dtype: torch.dtype) -> dict[str, Tensor]:
    """Float parameters of a module by state-dict name; tied aliases appear once."""
    return {
        name: param.detach().to("cpu", dtype).clone()
        for name, param in module.named_parameters(remove_duplicate=True)
        if param.is_floating_point()
    }


def _architecture(config: Any) -> tuple[str, tuple[str, ...]]:
    return getattr(config, "model_type", ""), tuple(getattr(config, "architectures", None) or ())


@dataclass(frozen=True, eq=False)
class ModelPool:
    """Base weights and per-source task vectors, ready for any merge plan.

    Attributes:
        names: Source names, in the order every plan lists them.
        config: The base model's HF config.
        tokenizer: The base directory's tokenizer, or None.
        base_path: The base checkpoint directory (None for an in-memory base).
        source_paths: Source name -> its directory (None for an in-memory source).
        base_state: Float tensors of the base by name, on the CPU (``dtype``).
        dtype: Float dtype of the base tensors and task vectors.
        base_module: The in-memory base module, when the base was given as one.
    """

    names: tuple[str, ...]
    config: Any
    tokenizer: Any
    base_path: Path | None
    source_paths: dict[str, Path | None]
    base_state: dict[str, Tensor]
    dtype: torch.dtype
    _deltas: dict[str, dict[str, Tensor]]
    base_module: nn.Module | None = None

    @classmethod
    def load(
        cls,
        base: ModelInput,
        sources: Mapping[str, ModelInput] | Sequence[ModelInput],
        dtype: torch.dtype = torch.float32,
    ) -> ModelPool:
        """Load a base and its sources and compute every task vector once.

        Args:
            base: HF checkpoint directory or in-memory causal LM.
            sources: Name -> directory / adapter directory / module, or a sequence
                of directories (each named after its folder).
            dtype: Float dtype of base and task vectors.

        Raises:
            SourceError: a path is missing or unreadable, a source's architecture,
                tensor names or shapes differ from the base's, or a tensor holds
                NaN or inf. The message names the model and the tensor.
        """
        named = _name_sources(sources)
        if not named:
            raise SourceError("a model pool needs at least one source besides the base")
        base_path, base_module, config, base_state = _load_base(base, dtype)
        _check_finite(base_state, "base")
        tokenizer = _load_tokenizer(base_path) if base_path is not None else None

        def make_base_model() -> nn.Module:
            return _instantiate(base_path, base_module, config, dtype)

        deltas: dict[str, dict[str, Tensor]] = {}
        source_paths: dict[str, Path | None] = {}
        for name, source in named.items():
            role = f"source {name!r}"
            if isinstance(source, nn.Module):
                source_paths[name] = None
                _check_architecture(getattr(source, "config", None), config, role)
                state = _module_state(source, dtype)
                deltas[name] = _subtract_base(state, base_state, role)
                continue
            path = check_model_dir(Path(source), role)
            source_paths[name] = path
            if is_adapter_dir(path):
                delta = adapter_delta(path, role, make_base_model, base_state)
                _check_finite(delta, role)
                deltas[name] = delta
                continue
            _check_architecture(_load_config(path, role), config, role)
            state = {k: v for k, v in load_state(path, role, dtype).items() if v.is_floating_point()}
            deltas[name] = _subtract_base(state, base_state, role)
        return cls(
            names=tuple(named),
            config=config,
            tokenizer=tokenizer,
            base_path=base_path,
            source_paths=source_paths,
            base_state=base_state,
            dtype=dtype,
            _deltas=deltas,
            base_module=base_module,
        )

    @cached_property
    def layout(self) -> TensorLayout:
        """Each merged tensor's decoder layer and role (built on first use, then kept)."""
        return TensorLayout.build(self.config, self.tensor_names)

    @property
    def num_layers(self) -> int:
        """Number of decoder layers of the base model."""
        return self.layout.num_layers

    @property
    def tensor_names(self) -> tuple[str, ...]:
        """Names of the merged (float, untied) tensors, in checkpoint order."""
        return tuple(self.base_state)

    @property
    def model_bytes(self) -> int:
        """Bytes of one model's merged tensors (the unit of memory budgets)."""
        return sum(t.numel() * t.element_size() for t in self.base_state.values())

    def delta(self, name: str) -> dict[str, Tensor]:
        """Task vector of source ``name``: tensor name -> ``theta_k - theta_base``."""
        try:
            return self._deltas[name]
        except KeyError:
            raise SourceError(f"unknown source {name!r}; the pool has {list(self.names)}") from None

    def build_model(self, device: str | torch.device = "cpu") -> nn.Module:
        """A fresh causal LM with the base's weights, buffers and config, in eval mode."""
        model = _instantiate(self.base_path, self.base_module, self.config, self.dtype)
        return model.to(device).eval()


def _name_sources(sources: Mapping[str, ModelInput] | Sequence[ModelInput]) -> dict[str, ModelInput]:
    if isinstance(sources, Mapping):
        return {str(k): v for k, v in sources.items()}
    named: dict[str, ModelInput] = {}
    for source in sources:
        if isinstance(source, nn.Module):
            raise SourceError("in-memory sources need names: pass a mapping name -> module")
        name = Path(source).name
        if name in named:
            raise SourceError(f"two sources are named {name!r}; pass a mapping to name them apart")
        named[name] = source
    return named


def _load_config(path: Path, role: str) -> Any:
    from transformers import AutoConfig

    if not (path / "config.json").is_file():
        raise SourceError(f"{role}: no config.json in {str(path)!r}")
    try:
        return AutoConfig.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError) as error:
        raise SourceError(f"{role}: cannot read config.json in {str(path)!r}: {error}") from error


def _load_base(
    base: ModelInput, dtype: torch.dtype
) -> tuple[Path | None, nn.Module | None, Any, dict[str, Tensor]]:
    if isinstance(base, nn.Module):
        config = getattr(base, "config", None)
        if config is None:
            raise SourceError("base: an in-memory base must be a transformers model (it has no .config)")
        return None, base, config, _module_state(base, dtype)
    path = check_model_dir(Path(base), "base")
    if is_adapter_dir(path):
        raise SourceError(f"base: {str(path)!r} is a PEFT adapter; the base must be a full checkpoint")
    config = _load_config(path, "base")
    state = {k: v for k, v in load_state(path, "base", dtype).items() if v.is_floating_point()}
    return path, None, config, state


def _load_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, TypeError, KeyError):
        return None  # a checkpoint without tokenizer files is valid


def _instantiate(path: Path | None, module: nn.Module | None, config: Any, dtype: torch.dtype) -> nn.Module:
    if module is not None:
        return copy.deepcopy(module).to(dtype)
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype, local_files_only=True)


def _check_architecture(config: Any, base_config: Any, role: str) -> None:
    if config is None:
        return
    theirs, ours = _architecture(config), _architecture(base_config)
    if theirs[0] != ours[0] or (theirs[1] and ours[1] and theirs[1] != ours[1]):
        raise SourceError(
            f"{role}: architecture mismatch: model_type {theirs[0]!r} {list(theirs[1])}, "
            f"base is {ours[0]!r} {list(ours[1])}"
        )


def _check_finite(state: Mapping[str, Tensor], role: str) -> None:
    for name, tensor in state.items():
        if not bool(torch.isfinite(tensor).all()):
            raise SourceError(f"{role}: tensor {name!r} contains NaN or inf")


def _subtract_base(state: dict[str, Tensor], base_state: Mapping[str, Tensor], role: str) -> dict[str, Tensor]:
    """Turn a source's float tensors into its task vector, in place."""
    extra = sorted(set(state) - set(base_state))
    if extra:
        hint = " (the base ties its output head to the embeddings)" if "lm_head.weight" in extra else ""
        raise SourceError(f"{role}: has tensor {extra[0]!r} that the base lacks{hint}")
    for name, base_tensor in base_state.items():
        tensor = state.get(name)
        if tensor is None:
            raise SourceError(f"{role}: missing tensor {name!r}")
        if tensor.shape != base_tensor.shape:
            raise SourceError(
                f"{role}: tensor {name!r} has shape {list(tensor.shape)}, base has {list(base_tensor.shape)}"
            )
        if not bool(torch.isfinite(tensor).all()):
            raise SourceError(f"{role}: tensor {name!r} contains NaN or inf")
        tensor.sub_(base_tensor)
    return {name: state[name] for name in base_state}
