import json
import struct

import pytest
import torch
from safetensors.torch import save_file

from mmmo.errors import SourceError
from mmmo.fingerprints import adapter_base_name, changed_models, model_fingerprint, safetensors_header


@pytest.fixture
def folder(tmp_path):
    save_file({"w": torch.zeros(2, 3)}, tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / ".hidden").write_text("ignored")
    return tmp_path


def test_header_is_read_without_the_tensors_and_a_cut_file_is_named(folder):
    file = folder / "model.safetensors"
    header = json.loads(safetensors_header(file))
    assert header["w"]["shape"] == [2, 3]
    file.write_bytes(file.read_bytes()[:12])
    with pytest.raises(SourceError, match="model.safetensors: truncated"):
        safetensors_header(file)
    file.write_bytes(struct.pack("<Q", 2**40))
    with pytest.raises(SourceError, match="not a safetensors file"):
        safetensors_header(file)


def test_fingerprint_lists_visible_files_and_changes_with_the_header(folder):
    before = model_fingerprint(folder)
    assert sorted(before["files"]) == ["config.json", "model.safetensors"] and before["adapter_base"] is None
    save_file({"w": torch.zeros(3, 2)}, folder / "model.safetensors")  # same size, other shape
    after = model_fingerprint(folder)
    assert after["files"]["model.safetensors"]["header_sha256"] != before["files"]["model.safetensors"]["header_sha256"]
    (line,) = changed_models({"base": before}, {"base": after})
    assert line.startswith("base: model.safetensors (") and "header_sha256" in line
    (folder / "extra.json").write_text("{}")
    assert "extra.json added" in changed_models({"base": before}, {"base": model_fingerprint(folder)})[0]


def test_adapter_base_name(tmp_path):
    assert adapter_base_name(tmp_path) is None
    (tmp_path / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "org/model"}))
    assert adapter_base_name(tmp_path) == "org/model"
    (tmp_path / "adapter_config.json").write_bytes(b"\xff")
    assert adapter_base_name(tmp_path) is None
