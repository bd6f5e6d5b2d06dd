"""Task vectors of PEFT adapters: plain LoRA kept as factors, anything else made full rank by PEFT.

A plain LoRA adapter's update of a weight is ``scale * B @ A``; it is kept as
its two factors (:func:`lora_factors`) and made full rank one tensor at a time,
while that tensor is merged. Other adapters' updates are computed by PEFT
itself (``merge_and_unload`` on a private copy of the base model), so every
adapter variant PEFT knows (DoRA, rank and alpha patterns, ``modules_to_save``)
gives the delta PEFT would apply.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from mmmo.errors import SourceError


def adapter_delta(
    adapter_dir: Path,
    role: str,
    make_base_model: Callable[[], nn.Module],
    base_state: Mapping[str, Tensor],
) -> dict[str, Tensor]:
    """Full-rank delta of an adapter, per base tensor name (zeros where it changes nothing).

    Args:
        adapter_dir: PEFT adapter directory (``adapter_config.json`` + weights).
        role: How errors name this source (``"source 'math'"``).
        make_base_model: Returns a fresh float copy of the base model.
        base_state: Base tensors by name; each delta has the same shape.
    """
    from peft import PeftModel

    model = make_base_model()
    try:
        peft_model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)
    except (RuntimeError, ValueError, KeyError) as error:
        raise SourceError(
            f"{role}: PEFT adapter {str(adapter_dir)!r} does not fit the base model: {error}"
        ) from error
    with torch.no_grad():
        merged = peft_model.merge_and_unload().state_dict()
    delta: dict[str, Tensor] = {}
    for name, base_tensor in base_state.items():
        tensor = merged.get(name)
        if tensor is None:
            raise SourceError(f"{role}: merged adapter model lacks tensor {name!r}")
        delta[name] = tensor.detach().to(base_tensor.dtype) - base_tensor
    return delta


@dataclass(frozen=True)
class LoraFactors:
    """One tensor's LoRA update kept as its factors: ``delta = scale * B @ A`` (transposed if ``transpose``).

    Attributes:
        a: ``[r, in]`` down-projection.
        b: ``[out, r]`` up-projection.
        scale: ``lora_alpha / r`` (``/ sqrt(r)`` with rsLoRA).
        transpose: The base stores the weight as ``[in, out]`` (``fan_in_fan_out``).
    """

    a: Tensor
    b: Tensor
    scale: float
    transpose: bool = False

    @property
    def nbytes(self) -> int:
        return self.a.numel() * self.a.element_size() + self.b.numel() * self.b.element_size()


# adapter_config.json fields whose non-default values make an adapter more than
# plain ``scale * B @ A`` per weight; such adapters go through PEFT (full rank).
_PLAIN_DEFAULTS = {"use_dora": False, "rank_pattern": {}, "alpha_pattern": {}, "modules_to_save": None, "bias": "none"}
_ADAPTER_WEIGHTS = "adapter_model.safetensors"
_PREFIX = "base_model.model."


def lora_factors(adapter_dir: Path, role: str, base_shapes: Mapping[str, torch.Size]) -> dict[str, LoraFactors] | None:
    """The adapter's updates as factors per base tensor name, or None when it is not plain LoRA.

    Plain LoRA: only ``lora_A`` / ``lora_B`` weights, one rank and alpha, no
    DoRA, no trained biases or extra modules. Anything else is left to PEFT
    (:func:`adapter_delta`), which knows every variant.

    Raises:
        SourceError: an update names a tensor the base lacks, or its shape does not fit.
    """
    import json

    from safetensors.torch import load_file

    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    if config.get("peft_type", "LORA") != "LORA" or not (adapter_dir / _ADAPTER_WEIGHTS).is_file():
        return None
    if any(config.get(key) not in (default, None, [], {}) for key, default in _PLAIN_DEFAULTS.items()):
        return None
    if config.get("bias", "none") != "none":
        return None
    rank, alpha = int(config["r"]), float(config["lora_alpha"])
    scale = alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank
    transpose = bool(config.get("fan_in_fan_out", False))
    try:
        weights = load_file(str(adapter_dir / _ADAPTER_WEIGHTS), device="cpu")
    except Exception as error:  # safetensors raises several types for a bad file
        raise SourceError(f"{role}: cannot read {str(adapter_dir / _ADAPTER_WEIGHTS)!r}: {error}") from error
    modules: dict[str, dict[str, Tensor]] = {}
    for key, tensor in weights.items():
        for part in ("lora_A", "lora_B"):
            suffix = f".{part}.weight"
            if key.endswith(suffix) and key.startswith(_PREFIX):
                modules.setdefault(key[len(_PREFIX) : -len(suffix)], {})[part] = tensor
                break
        else:
            return None  # embeddings, biases, saved modules: PEFT's business
    factors: dict[str, LoraFactors] = {}
    for module, parts in modules.items():
        name = f"{module}.weight"
        if name not in base_shapes:
            raise SourceError(f"{role}: adapter updates {name!r}, which the base lacks")
        if set(parts) != {"lora_A", "lora_B"}:
            raise SourceError(f"{role}: adapter has only {sorted(parts)} for {name!r}")
        a, b = parts["lora_A"], parts["lora_B"]
        shape = (a.shape[1], b.shape[0]) if transpose else (b.shape[0], a.shape[1])
        if a.shape[0] != b.shape[1] or torch.Size(shape) != base_shapes[name]:
            raise SourceError(
                f"{role}: adapter factors of {name!r} ({list(b.shape)} x {list(a.shape)}) do not fit "
                f"its base shape {list(base_shapes[name])}"
            )
        if not (bool(torch.isfinite(a).all()) and bool(torch.isfinite(b).all())):
            raise SourceError(f"{role}: tensor {name!r} contains NaN or inf")
        factors[name] = LoraFactors(a=a, b=b, scale=scale, transpose=transpose)
    return factors
