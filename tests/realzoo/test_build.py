"""The whole real-zoo build, offline, on a tiny GGUF model and a fake BIG-bench archive."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from mmmo.cli import main
from mmmo.errors import ZooError
from mmmo.realzoo import build as build_module
from mmmo.realzoo.build import RealZoo, build_real_zoo, real_zoo_dir
from mmmo.realzoo.config import RealZooConfig

from tiny_gguf import requires_gguf

pytestmark = requires_gguf

ADDITION, COUNTING = "arithmetic/2_digit_addition", "object_counting"


@pytest.fixture
def tiny_config() -> RealZooConfig:
    return dataclasses.replace(
        RealZooConfig(),
        expert_tasks=(ADDITION,),
        held_out_tasks=(COUNTING,),
        train_examples=16,
        test_examples=6,
        steps=3,
        batch_size=4,
        lora_rank=2,
        lora_alpha=4,
    )


def test_build_writes_every_part_and_scores_every_model_on_every_task(fake_packages, tiny_config):
    zoo = build_real_zoo(tiny_config)
    assert zoo.root == real_zoo_dir(tiny_config) and zoo.root.parent == fake_packages / "zoo"
    assert zoo.expert_tasks == ("arithmetic.2_digit_addition",) and zoo.held_out_tasks == ("object_counting",)
    assert (zoo.base / "model.safetensors").is_file() and (zoo.base / "tokenizer.json").is_file()
    assert (zoo.adapters["arithmetic.2_digit_addition"] / "adapter_config.json").is_file()
    assert zoo.experts == {}
    for task in zoo.expert_tasks + zoo.held_out_tasks:
        assert len(zoo.tests[task].read_text().splitlines()) == 6
    assert len(zoo.trains["arithmetic.2_digit_addition"].read_text().splitlines()) == 16
    scores = zoo.scores()
    assert set(scores) == {"base", "arithmetic.2_digit_addition"}
    assert all(set(by_task) == {"arithmetic.2_digit_addition", "object_counting"} for by_task in scores.values())
    manifest = zoo.manifest
    assert manifest["config"] == tiny_config.to_dict()
    assert manifest["tasks"]["arithmetic.2_digit_addition"]["bigbench_name"] == ADDITION
    assert manifest["cpu_seconds"] > 0 and manifest["seconds"]["total"] > 0
    assert not list(zoo.root.parent.glob(".*.tmp-*"))  # staging renamed away
    assert not (zoo.root / ".gguf").exists()


def test_a_second_build_is_read_from_the_cache(fake_packages, tiny_config, monkeypatch):
    first = build_real_zoo(tiny_config)

    def must_not_build(*args):
        raise AssertionError("rebuilt a cached zoo")

    monkeypatch.setattr(build_module, "_build_into", must_not_build)
    assert build_real_zoo(tiny_config).manifest == first.manifest
    assert RealZoo.load(first.root).scores() == first.scores()


def test_a_killed_build_leaves_nothing(fake_packages, tiny_config, monkeypatch):
    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(build_module, "train_lora", killed)
        build_real_zoo(tiny_config)
    target = real_zoo_dir(tiny_config)
    assert not target.exists()
    assert not list(target.parent.glob(f".{target.name}.tmp-*"))
    # A staging folder a killed process could not clean up is removed by the next build.
    stale = target.parent / f".{target.name}.tmp-dead"
    stale.mkdir()
    build_real_zoo(tiny_config)
    assert not stale.exists()


def test_merged_experts_equal_base_plus_adapter(fake_packages, tiny_config):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    zoo = build_real_zoo(dataclasses.replace(tiny_config, save_merged=True))
    task = "arithmetic.2_digit_addition"
    merged = AutoModelForCausalLM.from_pretrained(zoo.experts[task]).eval()
    adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(zoo.base), zoo.adapters[task]).eval()
    ids = torch.tensor([[40, 50, 60, 70, 3]])
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, adapted(ids).logits, atol=1e-5)


def test_a_missing_package_file_without_index_names_what_is_needed(fake_packages, tiny_config, monkeypatch):
    (fake_packages / "real" / "packages" / "bigbench-1.0.0.tar.gz").unlink()
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    with pytest.raises(ZooError, match="bigbench==1.0.0"):
        build_real_zoo(tiny_config)
    assert not real_zoo_dir(tiny_config).exists()


def test_cli_builds_and_prints_the_accuracy_table(fake_packages, capsys):
    code = main(["real-zoo", "--reduced", "--tasks", ADDITION, "--held-out", COUNTING, "--steps", "2", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["scores"]) == {"base", "arithmetic.2_digit_addition"}
    assert RealZoo.load(out["root"]).manifest["config"]["steps"] == 2


def test_an_expert_task_with_no_training_examples_left_is_named(fake_packages, tiny_config):
    with pytest.raises(ZooError, match="'arithmetic/2_digit_addition' has 40 distinct examples"):
        build_real_zoo(dataclasses.replace(tiny_config, test_examples=64))
    assert not real_zoo_dir(dataclasses.replace(tiny_config, test_examples=64)).exists()


def test_cli_refuses_a_bad_task_name_before_any_work(fake_packages, capsys):
    assert main(["real-zoo", "--tasks", "Not A Task"]) == 2
    assert "RealZooConfig.expert_tasks" in capsys.readouterr().err
    assert not (fake_packages / "zoo").exists()
