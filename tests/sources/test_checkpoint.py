import json

import pytest
import torch

from mmmo.errors import SourceError
from mmmo.sources.checkpoint import checkpoint_dtype


def _config_dir(tmp_path, **fields):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", **fields}))
    return tmp_path


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"dtype": "bfloat16"}, torch.bfloat16),
        ({"torch_dtype": "float16"}, torch.float16),  # the name before transformers 5
        ({"dtype": "float32", "torch_dtype": "bfloat16"}, torch.float32),  # the current name wins
        ({"text_config": {"dtype": "bfloat16"}}, torch.bfloat16),  # multimodal configs
        ({}, torch.float32),  # transformers' own default
    ],
)
def test_checkpoint_dtype_is_read_from_its_config(tmp_path, fields, expected):
    assert checkpoint_dtype(_config_dir(tmp_path, **fields)) == expected


def test_checkpoint_dtype_refuses_what_it_cannot_merge_in(tmp_path):
    with pytest.raises(SourceError, match=r"config\.json.*'torch_dtype' is 'int8'.*float32, bfloat16, float16"):
        checkpoint_dtype(_config_dir(tmp_path, torch_dtype="int8"))
    with pytest.raises(SourceError, match="cannot read"):
        checkpoint_dtype(tmp_path / "nowhere")


def test_checkpoint_dtype_of_a_saved_model(tmp_path, tiny_models):
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(tiny_models.base, dtype=torch.bfloat16).save_pretrained(tmp_path)
    assert checkpoint_dtype(tmp_path) == torch.bfloat16
    assert checkpoint_dtype(tiny_models.base) == torch.float32
