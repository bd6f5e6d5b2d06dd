"""Task vectors of PEFT adapters: the full-rank update an adapter applies to its base.

The update is computed by PEFT itself (``merge_and_unload`` on a private copy of
the base model), so every adapter variant PEFT knows (LoRA scaling, rsLoRA,
``fan_in_fan_out``, ``modules_to_save``) gives the delta PEFT would apply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
