"""Hub repo ids in ``base`` and ``models``, resolved in an HF cache the tests fill themselves."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from huggingface_hub import constants

from mmmo.campaign import Campaign
from mmmo.errors import SourceError
from mmmo.model_refs import HubId, display_name, is_hub_id, resolve_model

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def cache_model(cache: Path, repo_id: str, folder: Path, commit: str = COMMIT, ref: str = "main") -> Path:
    """Put ``folder``'s files into ``cache`` as huggingface_hub lays out a downloaded snapshot."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    blobs = repo / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for file in folder.iterdir():
        blob = blobs / f"blob-{file.name}"
        shutil.copy2(file, blob)
        (snapshot / file.name).symlink_to(Path("..", "..", "blobs", blob.name))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / ref).write_text(commit)
    return snapshot


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """An empty HF hub cache, offline."""
    cache = tmp_path / "hf_hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def test_hub_id_shapes(tmp_path, monkeypatch):
    assert HubId.parse("Qwen/Qwen2.5-7B@main") == HubId("Qwen/Qwen2.5-7B", "main")
    assert HubId.parse("org/model") == HubId("org/model", None)
    for text in ("model", "a/b/c", "./org/model", "../org/model", "/abs/model", "org/model@", "~/x"):
        assert HubId.parse(text) is None, text
    assert display_name("Qwen/Qwen2.5-7B@v1.0") == "Qwen2.5-7B"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "org" / "model").mkdir(parents=True)
    assert not is_hub_id("org/model")  # an existing folder wins over the hub


def test_cached_repo_resolves_offline_at_a_revision(hf_cache, tiny_zoo):
    snapshot = cache_model(hf_cache, "org/tiny-base", tiny_zoo.base)
    assert resolve_model("org/tiny-base", "base") == snapshot
    assert resolve_model("org/tiny-base@main", "base") == snapshot
    assert resolve_model(f"org/tiny-base@{COMMIT}", "base") == snapshot
    with pytest.raises(SourceError, match=r"models\.0\.path: model 'org/tiny-base@v9'.*" + str(hf_cache)):
        resolve_model("org/tiny-base@v9", "models.0.path")


def test_missing_repo_names_the_id_and_the_cache(hf_cache):
    with pytest.raises(SourceError, match=rf"base: model 'org/absent' is not in the Hugging Face cache {hf_cache}"):
        resolve_model("org/absent", "base")
    with pytest.raises(SourceError, match="does not exist, and is not a Hugging Face repo id"):
        resolve_model("/no/such/folder", "base")


def test_unreachable_hub_falls_back_to_the_cache(hf_cache, tiny_zoo, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    snapshot = cache_model(hf_cache, "org/tiny-base", tiny_zoo.base)
    assert resolve_model("org/tiny-base", "base") == snapshot
    with pytest.raises(SourceError, match="model 'org/absent' is not in the Hugging Face cache"):
        resolve_model("org/absent", "base")


def test_remote_code_is_refused_unless_asked_for(tmp_path):
    folder = tmp_path / "custom"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps({"model_type": "my_own_arch", "auto_map": {"AutoModelForCausalLM": "modeling.MyModel"}})
    )
    with pytest.raises(SourceError, match="base: .*needs the model's own code.*trust_remote_code: true"):
        resolve_model(folder, "base")
    assert resolve_model(folder, "base", trust_remote_code=True) == folder
    # An architecture transformers knows runs transformers' code, whatever auto_map says.
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "auto_map": {"AutoConfig": "x.Y"}}))
    assert resolve_model(folder, "base") == folder


def _config(base, models, data):
    return {
        "base": base,
        "models": models,
        "space": "task_arithmetic",
        "objectives": [{"kind": "exact_match", "data": str(data), "limit": 4, "name": "em"}],
        "budget": {"trials": 1, "initial": 1},
        "recipes": False,
        "device": "cpu",
    }


def test_campaign_runs_on_hub_ids(hf_cache, tiny_zoo, tmp_path):
    cache_model(hf_cache, "org/tiny-base", tiny_zoo.base)
    names = list(tiny_zoo.experts)[:2]
    for name in names:
        cache_model(hf_cache, f"org/{name}", tiny_zoo.experts[name])
    models = [f"org/{names[0]}@main", f"org/{names[1]}"]
    data = tiny_zoo.tasks[names[0]].test
    with Campaign.create(tmp_path / "c.sqlite", _config("org/tiny-base", models, data)) as campaign:
        assert campaign.config.model_names == tuple(names)
        assert str(campaign.config.base) == "org/tiny-base"  # stored as written
        campaign.run()
        assert set(campaign.trials()["status"]) == {"complete"}


def test_uncached_hub_id_is_refused_before_any_trial(hf_cache, tiny_zoo, tmp_path):
    cache_model(hf_cache, "org/tiny-base", tiny_zoo.base)
    expert = next(iter(tiny_zoo.experts.values()))
    path = tmp_path / "c.sqlite"
    with pytest.raises(SourceError, match=rf"models\.1\.path: model 'org/gone' is not in the Hugging Face cache {hf_cache}"):
        Campaign.create(path, _config("org/tiny-base", [str(expert), "org/gone"], tiny_zoo.tasks[tiny_zoo.expert_tasks[0]].test))
    assert not path.exists()


_CONFIG_CODE = """from transformers import LlamaConfig


class TinyCodeConfig(LlamaConfig):
    model_type = "tinycode_llama"
"""

_MODEL_CODE = """from transformers import LlamaForCausalLM

from .configuration_tinycode import TinyCodeConfig


class TinyCodeForCausalLM(LlamaForCausalLM):
    config_class = TinyCodeConfig
"""


def _with_own_code(source: Path, folder: Path) -> Path:
    """A copy of checkpoint ``source`` whose config.json names an architecture only its own code defines."""
    shutil.copytree(source, folder)
    (folder / "configuration_tinycode.py").write_text(_CONFIG_CODE)
    (folder / "modeling_tinycode.py").write_text(_MODEL_CODE)
    config = json.loads((folder / "config.json").read_text())
    config.update(
        model_type="tinycode_llama",
        architectures=["TinyCodeForCausalLM"],
        auto_map={
            "AutoConfig": "configuration_tinycode.TinyCodeConfig",
            "AutoModelForCausalLM": "modeling_tinycode.TinyCodeForCausalLM",
        },
    )
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_a_model_with_its_own_code_runs_only_when_the_config_trusts_it(tiny_zoo, tmp_path):
    names = list(tiny_zoo.experts)[:2]
    base = _with_own_code(tiny_zoo.base, tmp_path / "base")
    models = [{"path": str(_with_own_code(tiny_zoo.experts[n], tmp_path / n)), "name": n} for n in names]
    config = _config(str(base), models, tiny_zoo.tasks[names[0]].test)
    with pytest.raises(SourceError, match="trust_remote_code: true"):
        Campaign.create(tmp_path / "refused.sqlite", config)
    assert not (tmp_path / "refused.sqlite").exists()
    with Campaign.create(tmp_path / "trusted.sqlite", {**config, "trust_remote_code": True}) as campaign:
        campaign.run()
        trials = campaign.trials()
        assert type(campaign._build_engine().merger.model).__name__ == "TinyCodeForCausalLM"
    assert (trials["origin"] == "searched").sum() == 1 and (trials["status"] == "complete").all(), trials["error"].tolist()
