"""Building, caching and loading the zoo; the accuracy properties of the tiny zoo."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from mmmo.errors import ZooError
from mmmo.zoo import Zoo, build_zoo, zoo_dir
from mmmo.zoo import build as build_module


def _weights(path):
    return load_file(path / "model.safetensors")


def test_two_builds_with_one_seed_give_identical_weights_and_data(micro_config, tmp_path, monkeypatch):
    zoos = []
    for name in ("first", "second"):
        monkeypatch.setenv("MMMO_CACHE", str(tmp_path / name))
        zoos.append(build_zoo(micro_config, progress=False))
    first, second = zoos
    assert first.root != second.root
    for model in first.models:
        a, b = _weights(first.models[model]), _weights(second.models[model])
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{model}: {key} differs between builds"
    for task in first.tasks:
        assert first.tasks[task].train.read_bytes() == second.tasks[task].train.read_bytes()
        assert first.tasks[task].test.read_bytes() == second.tasks[task].test.read_bytes()
    assert first.manifest["scores"] == second.manifest["scores"]


def test_another_seed_gives_other_weights(micro_config, zoo_cache):
    a = build_zoo(micro_config, progress=False)
    b = build_zoo(dataclasses.replace(micro_config, seed=1), progress=False)
    assert a.root != b.root
    wa, wb = _weights(a.base), _weights(b.base)
    assert not torch.equal(wa["model.embed_tokens.weight"], wb["model.embed_tokens.weight"])


def test_second_call_is_a_cache_hit_and_a_changed_setting_rebuilds(micro_config, zoo_cache, monkeypatch):
    calls = []
    real_build = build_module._build_into
    monkeypatch.setattr(
        build_module, "_build_into", lambda *args: (calls.append(args[1]), real_build(*args))[1]
    )
    zoo = build_zoo(micro_config, progress=False)
    assert calls == [micro_config]
    assert zoo.root == zoo_dir(micro_config) and zoo.root.parent == zoo_cache / "zoo"

    again = build_zoo(micro_config, progress=False)
    assert calls == [micro_config]  # nothing was trained the second time
    assert again == zoo

    changed = dataclasses.replace(micro_config, finetune_lr=micro_config.finetune_lr * 2)
    rebuilt = build_zoo(changed, progress=False)
    assert calls == [micro_config, changed]
    assert rebuilt.root != zoo.root
    assert rebuilt.manifest["config"]["finetune_lr"] == changed.finetune_lr


def test_a_killed_build_leaves_nothing_that_looks_complete(micro_config, zoo_cache, monkeypatch):
    def die_half_way(root, config, progress):
        (root / "base").mkdir()
        (root / "base" / "model.safetensors").write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(build_module, "_build_into", die_half_way)
    with pytest.raises(KeyboardInterrupt):
        build_zoo(micro_config, progress=False)
    assert not zoo_dir(micro_config).exists()
    assert not list((zoo_cache / "zoo").glob(".*.tmp-*"))

    monkeypatch.undo()
    monkeypatch.setenv("MMMO_CACHE", str(zoo_cache))
    zoo = build_zoo(micro_config, progress=False)
    assert (zoo.root / "manifest.json").is_file()


def test_stale_staging_folders_are_removed_on_the_next_build(micro_config, zoo_cache):
    target = zoo_dir(micro_config)
    stale = target.parent / f".{target.name}.tmp-killed"
    stale.mkdir(parents=True)
    build_zoo(micro_config, progress=False)
    assert not stale.exists()


def test_loading_a_folder_without_manifest_names_it(tmp_path):
    with pytest.raises(ZooError, match="manifest.json"):
        Zoo.load(tmp_path)
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(ZooError, match="not a zoo manifest"):
        Zoo.load(tmp_path)


def test_manifest_records_settings_seeds_and_every_score(tiny_zoo):
    manifest = tiny_zoo.manifest
    config = manifest["config"]
    assert tuple(config["expert_tasks"]) == tiny_zoo.expert_tasks
    assert tuple(config["held_out_tasks"]) == tiny_zoo.held_out_tasks
    assert {"init", "pretrain"} <= set(manifest["seeds"])
    assert set(manifest["scores"]) == {"base", *tiny_zoo.expert_tasks}
    for by_task in manifest["scores"].values():
        assert set(by_task) == set(tiny_zoo.tasks)
        for scores in by_task.values():
            assert set(scores) == {"exact_match", "token_accuracy", "answer_loglik"}
    assert manifest == json.loads((tiny_zoo.root / "manifest.json").read_text())


def test_every_checkpoint_loads_with_transformers_and_answers(tiny_zoo):
    for name, path in tiny_zoo.models.items():
        model = AutoModelForCausalLM.from_pretrained(path).eval()
        tokenizer = AutoTokenizer.from_pretrained(path)
        assert model.config.model_type == "llama", name
        assert not model.config.tie_word_embeddings
        assert (path / "model.safetensors").is_file()
        prompt = tokenizer("desc abc=", return_tensors="pt")
        out = model.generate(**prompt, max_new_tokens=4, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        assert out.shape[0] == 1 and out.shape[1] > prompt.input_ids.shape[1]


def test_task_files_are_prompt_answer_jsonl(tiny_zoo):
    assert set(tiny_zoo.tasks) == set(tiny_zoo.expert_tasks) | set(tiny_zoo.held_out_tasks)
    assert tiny_zoo.held_out_tasks, "at least one task has no expert"
    for name, task in tiny_zoo.tasks.items():
        assert task.has_expert == (name in tiny_zoo.experts)
        for path in (task.train, task.test):
            rows = [json.loads(line) for line in path.read_text().splitlines()]
            assert rows and all(set(r) == {"prompt", "answer"} for r in rows), path


# The accuracy properties of the tiny zoo, measured at build time (manifest)
# with the zoo's own evaluator. The bounds leave room for other seeds: the
# tiny zoo trains far less than the default one.


def test_base_fails_every_task(tiny_zoo):
    for task, value in tiny_zoo.scores()["base"].items():
        assert value <= 0.2, f"base scores {value} on {task}"


def test_each_expert_learns_its_own_task(tiny_zoo):
    scores = tiny_zoo.scores()
    for task in tiny_zoo.expert_tasks:
        assert scores[task][task] >= 0.5, f"expert {task}: {scores[task][task]}"
        assert scores[task][task] >= scores["base"][task] + 0.4


def test_an_expert_is_best_at_its_own_task(tiny_zoo):
    scores = tiny_zoo.scores("token_accuracy")
    for task in tiny_zoo.expert_tasks:
        others = [scores[m][task] for m in scores if m != task]
        assert scores[task][task] > max(others), task
