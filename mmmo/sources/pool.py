"""The model pool: a base model and K sources, as base weights plus task vectors.

Each source is a local HF checkpoint directory, a PEFT adapter directory, or an
in-memory ``nn.Module``. Its task vector ``delta_k = theta_k - theta_base``
covers every floating-point parameter of the base; where it is stored (held in
memory, or read from the mapped checkpoints one tensor at a time) is the
pool's ``storage`` (:mod:`mmmo.sources.task_vectors`). Non-float tensors and
buffers are not merged: the live model keeps the base's. Tied embeddings stay
tied because a tied output head is not a tensor of its own (it is absent from
the checkpoint, and an alias in an in-memory module).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from mmmo.errors import SourceError
from mmmo.sources.layout import TensorLayout
from mmmo.sources.loading import build_task_vectors, describe_pool, instantiate
from mmmo.sources.storage_choice import available_memory, choose_storage
from mmmo.sources.task_vectors import TaskVectors

ModelInput = str | Path | nn.Module




@dataclass(frozen=True, eq=False)
class ModelPool:
    """Base weights and per-source task vectors, ready for any merge plan.

    Attributes:
        names: Source names, in the order every plan lists them.
        config: The base model's HF config.
        tokenizer: The base directory's tokenizer, or None.
        base_path: The base checkpoint directory (None for an in-memory base).
        source_paths: Source name -> its directory (None for an in-memory source).
        dtype: Float dtype of the live model and of held tensors.
        task_vectors: Where the base and the task vectors live (see
            :mod:`mmmo.sources.task_vectors`); ``task_vectors.mode`` is the storage.
        base_module: The in-memory base module, when the base was given as one.
        trust_remote_code: Whether the checkpoints' own code (``auto_map``) may run.
    """

    names: tuple[str, ...]
    config: Any
    tokenizer: Any
    base_path: Path | None
    source_paths: dict[str, Path | None]
    dtype: torch.dtype
    task_vectors: TaskVectors
    base_module: nn.Module | None = None
    trust_remote_code: bool = False

    @classmethod
    def load(
        cls,
        base: ModelInput,
        sources: Mapping[str, ModelInput] | Sequence[ModelInput],
        dtype: torch.dtype = torch.float32,
        storage: str = "auto",
        available_bytes: int | None = None,
        trust_remote_code: bool = False,
    ) -> ModelPool:
        """Load a base and its sources, holding or mapping them as ``storage`` says.

        Args:
            base: HF checkpoint directory or in-memory causal LM.
            sources: Name -> directory / adapter directory / module, or a sequence
                of directories (each named after its folder).
            dtype: Float dtype of the live model and of held tensors.
            storage: ``resident``, ``mmap`` or ``auto`` (see
                :mod:`mmmo.sources.storage_choice`); decided from the
                checkpoints' headers before any tensor is read.
            available_bytes: Memory to fit in (default: the system's available memory).
            trust_remote_code: Let checkpoints that need their own code
                (``auto_map`` in config.json) run it; refused otherwise.

        Raises:
            SourceError: a path is missing or unreadable, a safetensors file is
                truncated, a source's architecture, tensor names or shapes
                differ from the base's, a tensor holds NaN or inf, or the
                storage asked for does not fit. The message names the model
                and the tensor or file.
        """
        named = _name_sources(sources)
        if not named:
            raise SourceError("a model pool needs at least one source besides the base")
        described = describe_pool(base, named, dtype, trust_remote_code)
        available = available_memory() if available_bytes is None else available_bytes
        mode = choose_storage(storage, described.needs, available, described.can_map)

        def make_base_model() -> nn.Module:
            return instantiate(
                described.base_path, described.base_module, described.config, dtype, trust_remote_code
            )

        task_vectors = build_task_vectors(described, mode, dtype, make_base_model)
        tokenizer = _load_tokenizer(described.base_path, trust_remote_code) if described.base_path else None
        return cls(
            names=tuple(named),
            config=described.config,
            tokenizer=tokenizer,
            base_path=described.base_path,
            source_paths=described.source_paths,
            dtype=dtype,
            task_vectors=task_vectors,
            base_module=described.base_module,
            trust_remote_code=trust_remote_code,
        )

    @cached_property
    def layout(self) -> TensorLayout:
        """Each merged tensor's decoder layer and role (built on first use, then kept)."""
        return TensorLayout.build(self.config, self.tensor_names)

    @property
    def storage(self) -> str:
        """``resident`` or ``mmap``: how the task vectors are stored."""
        return self.task_vectors.mode

    @property
    def num_layers(self) -> int:
        """Number of decoder layers of the base model."""
        return self.layout.num_layers

    @property
    def tensor_names(self) -> tuple[str, ...]:
        """Names of the merged (float, untied) tensors, in checkpoint order."""
        return tuple(self.task_vectors.shapes)

    @property
    def base_state(self) -> Mapping[str, Tensor]:
        """Float tensors of the base by name, on the CPU, in ``dtype`` (mapped ones converted when read)."""
        return self.task_vectors.base_state()

    @property
    def model_bytes(self) -> int:
        """Bytes of one model's merged tensors in ``dtype`` (the unit of memory budgets)."""
        size = torch.empty((), dtype=self.dtype).element_size()
        return sum(shape.numel() for shape in self.task_vectors.shapes.values()) * size

    def delta(self, name: str) -> Mapping[str, Tensor]:
        """Task vector of source ``name``: tensor name -> ``theta_k - theta_base``, in ``dtype``.

        Held float32 task vectors are returned as they are; others are formed
        when a tensor is read, so iterating holds one tensor at a time.
        """
        if name not in self.names:
            raise SourceError(f"unknown source {name!r}; the pool has {list(self.names)}")
        return _SourceDelta(self.task_vectors, name)

    def build_model(self, device: str | torch.device = "cpu") -> nn.Module:
        """A fresh causal LM with the base's weights, buffers and config, in eval mode."""
        model = instantiate(self.base_path, self.base_module, self.config, self.dtype, self.trust_remote_code)
        if torch.device(device).type == "cpu" and self.base_path is not None:
            # Loaded tensors may be views of the mapped checkpoint; the live model
            # is written every trial, and a write to a mapped file truncated
            # since would kill the process. Each gets memory of its own.
            with torch.no_grad():
                for tensor in (*model.parameters(), *model.buffers()):
                    tensor.data = tensor.data.clone()
        return model.to(device).eval()


class _SourceDelta(Mapping[str, Tensor]):
    def __init__(self, task_vectors: TaskVectors, source: str) -> None:
        self._tv = task_vectors
        self._source = source

    def __getitem__(self, tensor: str) -> Tensor:
        if tensor not in self._tv.shapes:
            raise KeyError(tensor)
        return self._tv.delta(self._source, tensor)

    def __iter__(self) -> Iterator[str]:
        return iter(self._tv.shapes)

    def __len__(self) -> int:
        return len(self._tv.shapes)


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


def _load_tokenizer(path: Path, trust_remote_code: bool = False) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, TypeError, KeyError):
        return None  # a checkpoint without tokenizer files is valid
