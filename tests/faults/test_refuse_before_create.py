"""Item: every check that needs no full weights runs before the campaign file exists;
creation is atomic."""

from __future__ import annotations

import errno
import json
import os
import struct

import pytest
import yaml
from faultlib import assert_clean_error, config_for, mmmo

from mmmo.campaign import Campaign
from mmmo.errors import ConfigError, ObjectiveError, SourceError, StoreError


def _nothing_left(folder, name="c.db"):
    return not [p.name for p in folder.iterdir() if p.name.startswith((name, f".{name}"))]


def _truncate(file, keep):
    data = file.read_bytes()
    file.write_bytes(data[:keep])


def _reshape_header(file, tensor, shape):
    """Rewrite one tensor's shape in a safetensors header (the data left as it is)."""
    data = file.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    header[tensor]["shape"] = shape
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    file.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + length:])


def _cases(models, tmp_path):
    """(what is wrong, how to break the config, expected error, fragment of its message)."""
    bad_data = tmp_path / "bad.jsonl"
    bad_data.write_text('{"prompt": "a", "answer": "b"}\n{"prompt": 3}\n')
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes(b'{"prompt": "caf\xe9", "answer": "x"}\n')
    objective = {"kind": "answer_loglik", "name": "t1"}
    return [
        ("a data file line", dict(objectives=[{**objective, "data": str(bad_data)}]), ObjectiveError, "bad.jsonl:2"),
        ("a missing data file", dict(objectives=[{**objective, "data": str(tmp_path / "none.jsonl")}]),
         ObjectiveError, "none.jsonl: data file not found"),
        ("a non-UTF-8 data file", dict(objectives=[{**objective, "data": str(latin1)}]),
         ObjectiveError, "latin1.jsonl is not UTF-8"),
        ("a callable that does not import", dict(objectives=[{"kind": "callable", "function": "no_such_mod:f"}]),
         ObjectiveError, "cannot import module 'no_such_mod'"),
        ("a missing base", dict(base=str(tmp_path / "nowhere")), SourceError, "base: .*nowhere does not exist"),
        ("a base that is an adapter", dict(base=str(models / "lora")), SourceError, "base: .* is a PEFT adapter"),
        ("a missing source", dict(models=[str(models / "a"), str(tmp_path / "gone")]), SourceError,
         r"models\.1\.path: .*gone does not exist"),
    ]


def test_each_bad_config_is_refused_and_no_file_is_left(models, tmp_path):
    for what, overrides, error, message in _cases(models, tmp_path):
        with pytest.raises(error, match=message):
            Campaign.create(tmp_path / "c.db", config_for(models, **overrides))
        assert _nothing_left(tmp_path), what
    Campaign.create(tmp_path / "c.db", config_for(models)).close()  # the fixed config is not "already exists"


def test_model_files_are_checked_from_their_headers(models, tmp_path):
    (models / "base" / "config.json").rename(models / "base" / "config.moved")
    with pytest.raises(SourceError, match="base: no config.json"):
        Campaign.create(tmp_path / "c.db", config_for(models))
    (models / "base" / "config.moved").rename(models / "base" / "config.json")
    _reshape_header(models / "b" / "model.safetensors", "model.layers.0.mlp.up_proj.weight", [16, 32])
    reshaped = r"source 'b': tensor 'model\.layers\.0\.mlp\.up_proj\.weight' has shape \[16, 32\]"
    with pytest.raises(SourceError, match=reshaped):
        Campaign.create(tmp_path / "c.db", config_for(models))
    file = models / "a" / "model.safetensors"
    _truncate(file, file.stat().st_size - 100)
    cut_short = r"source 'a': cannot read the safetensors header of .*a/model.safetensors'.*not fully covered"
    with pytest.raises(SourceError, match=cut_short):
        Campaign.create(tmp_path / "c.db", config_for(models))
    assert _nothing_left(tmp_path)


def test_device_and_extras_are_checked_first(models, tmp_path, monkeypatch):
    import importlib.util

    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="device: 'cuda'"):
        Campaign.create(tmp_path / "c.db", config_for(models, device="cuda"))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "lm_eval" else real(name, *a))
    with pytest.raises(ConfigError, match=r"lm-eval extra.*mmmo\[lm-eval\]"):
        Campaign.create(tmp_path / "c.db", config_for(models, objectives=[{"kind": "lm_eval", "task": "x"}]))
    assert _nothing_left(tmp_path)


def test_creation_is_atomic_when_the_last_step_fails(models, tmp_path, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "link", no_space)
    with pytest.raises(StoreError, match=f"{tmp_path / 'c.db'}: .*no space left"):
        Campaign.create(tmp_path / "c.db", config_for(models))
    assert list(tmp_path.iterdir()) == [models]  # no husk, no temporary file, no lock file


def test_cli_run_refuses_then_runs_the_fixed_config_without_by_hand_cleanup(models, tmp_path):
    config = config_for(models, objectives=[{"kind": "answer_loglik", "name": "t1", "data": str(tmp_path / "t.jsonl")}])
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    assert_clean_error(mmmo("run", path), 2, "t.jsonl: data file not found")
    assert not (tmp_path / "c.db").exists()
    (tmp_path / "t.jsonl").write_text(json.dumps({"prompt": "aaa", "answer": "a"}) + "\n")
    result = mmmo("run", path)
    assert result.returncode == 0, result.stderr
    assert f"created {tmp_path / 'c.db'}" in result.stderr

