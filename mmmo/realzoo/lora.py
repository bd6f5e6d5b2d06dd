"""One LoRA expert per task, trained on the CPU with PEFT, deterministically for a seed.

The training loop is the demo zoo's (:func:`mmmo.zoo.train.train`: AdamW,
warm-up then cosine, batches drawn by a seeded generator) with the same
prompt/answer encoding every objective uses, so an expert learns to write the
answer and then EOS. PEFT freezes the base: only the adapter's factors get
gradients, and dropout is off so a seed fixes every bit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mmmo.realzoo.bigbench import Example
from mmmo.zoo.train import encode_examples, train


@dataclass(frozen=True)
class LoraSettings:
    """Adapter shape and its training schedule."""

    rank: int
    alpha: int
    target_modules: tuple[str, ...]
    steps: int
    lr: float
    batch_size: int


def train_lora(
    base: Any, tokenizer: Any, examples: tuple[Example, ...], settings: LoraSettings, seed: int
) -> tuple[Any, list[float]]:
    """``base`` wrapped in a freshly trained LoRA adapter (a ``PeftModel``) and its losses.

    ``base`` is modified only by the wrapping: its own weights stay frozen.
    """
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=0.0,
        target_modules=list(settings.target_modules),
        task_type="CAUSAL_LM",
    )
    torch.manual_seed(seed)  # the adapter's A factors are initialised at random
    model = get_peft_model(base, config)
    data = encode_examples(examples, tokenizer)
    losses = train(model, data, settings.steps, settings.lr, settings.batch_size, seed)
    return model, losses


def save_adapter(model: Any, out_dir: Path) -> Path:
    """Write the adapter as a PEFT folder, with no path of the build machine in its config.

    PEFT records the base's path at save time; the zoo is built in a staging
    folder and moved, so that path would be wrong. The base sits beside the
    adapter in the zoo (``../../base``) and is always given explicitly.
    """
    model.save_pretrained(out_dir)
    config_file = out_dir / "adapter_config.json"
    config = json.loads(config_file.read_text())
    config["base_model_name_or_path"] = None
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return out_dir
