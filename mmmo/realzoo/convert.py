"""GGUF -> Hugging Face checkpoint, through transformers' own GGUF loader.

transformers reads a GGUF file (dequantising it to float) but refuses to
``save_pretrained`` the result, because the model still carries the GGUF
``quantization_config``. The weights it holds are plain float tensors, so the
model is built again from its config without that entry, given the same
state dict, and saved: the saved checkpoint gives bit-identical logits, loads
in float32 or bfloat16, and needs no ``gguf`` package any more.
"""

from __future__ import annotations

from pathlib import Path

import torch

from mmmo.errors import ZooError


def convert_gguf(gguf_file: str | Path, out_dir: str | Path, dtype: torch.dtype = torch.float32) -> Path:
    """Write ``gguf_file`` as an HF checkpoint (safetensors, config, tokenizer) into ``out_dir``.

    Args:
        gguf_file: A GGUF model file of an architecture transformers can read.
        out_dir: Folder to write; created if missing.
        dtype: dtype of the saved weights (float32 keeps the dequantised values exactly).

    Returns:
        ``out_dir``.
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf_file = Path(gguf_file)
    if not gguf_file.is_file():
        raise ZooError(f"GGUF file {gguf_file} not found")
    _require_gguf_reader()
    folder, name = str(gguf_file.parent), gguf_file.name
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=dtype)
    except (ValueError, KeyError, OSError) as error:
        raise ZooError(f"transformers cannot read GGUF file {gguf_file}: {error}") from error
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the reason save_pretrained refuses the loaded model
    config.dtype = dtype
    model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    # Tied output embeddings appear in neither list once tied again; anything else is a real gap.
    missing = [k for k in missing if not (config.tie_word_embeddings and k == "lm_head.weight")]
    if missing or unexpected:
        raise ZooError(
            f"rebuilding {gguf_file} from its config: missing tensors {missing[:5]}, unexpected {unexpected[:5]}"
        )
    model.tie_weights()
    model.generation_config = loaded.generation_config
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def _require_gguf_reader() -> None:
    try:
        import gguf  # noqa: F401
    except ImportError as error:
        raise ZooError(
            "reading a GGUF file needs the 'gguf' package: pip install 'mmmo[real]' "
            "(or pip install gguf==0.19.0 accelerate)"
        ) from error
