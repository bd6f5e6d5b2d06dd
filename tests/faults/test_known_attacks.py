"""Attacks the store already withstood, kept so they stay withstood: kills, a second writer,
damaged and hostile model files, remote code."""

from __future__ import annotations

import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
from faultlib import TESTS, assert_clean_error, config_for, mmmo

from mmmo.campaign import Campaign
from mmmo.errors import CampaignLockedError, MmmoError, SourceError


def test_repeated_sigkill_and_resume_lose_and_duplicate_nothing(models, tmp_path):
    path = tmp_path / "c.db"
    objectives = [{"kind": "callable", "function": "campaign_worker:slow_head_sum", "name": "head"}]
    Campaign.create(path, config_for(models, objectives=objectives, budget={"trials": 8, "initial": 8})).close()
    env = {**os.environ, "MMMO_TEST_PAUSE": "0.3"}
    rng = random.Random(16)
    seen: dict = {}
    for kill in range(5):
        worker = subprocess.Popen([sys.executable, str(TESTS / "campaign_worker.py"), str(path)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(2.0, 5.0))  # anywhere from loading the models to the middle of a trial
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        with Campaign.open(path, readonly=True) as reader:
            records = {r.trial_id: r for r in reader._store.trials()}
        for trial_id, record in seen.items():
            assert records[trial_id] == record, f"kill {kill}: trial {trial_id} changed after it finished"
        seen.update({i: r for i, r in records.items() if r.finished})
    with Campaign.open(path) as campaign:
        campaign.run()
        after = {r.trial_id: r for r in campaign._store.trials()}
    for trial_id, record in seen.items():
        assert after[trial_id] == record
    searched = [r for r in after.values() if not r.is_reference]
    assert len(searched) == 8 and all(r.status == "complete" for r in searched)
    assert len({r.x for r in searched}) == 8  # nothing proposed twice
    assert sorted(r.label for r in after.values() if r.is_reference) == ["a", "b", "base"]


def test_a_second_writer_is_refused_naming_the_first(models, tmp_path):
    path = tmp_path / "c.db"
    with Campaign.create(path, config_for(models)):
        with pytest.raises(CampaignLockedError, match=f"process {os.getpid()}"):
            Campaign.open(path)
        assert_clean_error(mmmo("resume", path), 2, f"process {os.getpid()}")
        assert mmmo("status", path).returncode == 0  # readers are never refused


def test_a_truncated_weight_file_is_refused_naming_it(models, tmp_path):
    file = models / "base" / "model.safetensors"
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    with pytest.raises(SourceError, match=r"base: .*base/model.safetensors"):
        Campaign.create(tmp_path / "c.db", config_for(models))
    assert not (tmp_path / "c.db").exists()


def test_nan_weights_are_refused_naming_the_tensor(models, tmp_path):
    from safetensors.torch import load_file, save_file

    file = models / "b" / "model.safetensors"
    state = load_file(file)
    state["model.layers.1.self_attn.q_proj.weight"][0, 0] = float("nan")
    save_file(state, file, metadata={"format": "pt"})
    path = tmp_path / "c.db"
    Campaign.create(path, config_for(models)).close()  # headers are fine; the values are read on loading
    with Campaign.open(path) as campaign:
        with pytest.raises(SourceError, match=r"source 'b': tensor 'model.layers.1.self_attn.q_proj.weight' .*NaN"):
            campaign.run()
        assert campaign.trials().empty


class _Hostile:
    """Unpickling this runs code: it would create the file ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_hostile_pickles_are_never_loaded(models, tmp_path):
    marker = tmp_path / "pwned"
    # A full checkpoint with only a pickle, and an adapter with only a pickle.
    (models / "a" / "model.safetensors").unlink()
    (models / "a" / "pytorch_model.bin").write_bytes(pickle.dumps(_Hostile(marker)))
    with pytest.raises(SourceError, match=r"source 'a': no model.safetensors"):
        Campaign.create(tmp_path / "c.db", config_for(models))
    (models / "lora" / "adapter_model.safetensors").unlink()
    (models / "lora" / "adapter_model.bin").write_bytes(pickle.dumps(_Hostile(marker)))
    lora = config_for(models, models=[str(models / "b"), {"path": str(models / "lora"), "name": "lora"}])
    with pytest.raises(SourceError, match="source 'lora'.*pickle"):
        Campaign.create(tmp_path / "c.db", lora)
    assert not marker.exists() and not (tmp_path / "c.db").exists()


def test_auto_map_remote_code_is_never_run(models, tmp_path):
    marker = tmp_path / "remote-code-ran"
    code = f"open({str(marker)!r}, 'w').write('ran')\nfrom transformers import LlamaConfig\n" \
           "class EvilConfig(LlamaConfig):\n    pass\n"
    for name in ("base", "a"):
        (models / name / "evil.py").write_text(code)
        config_file = models / name / "config.json"
        config = json.loads(config_file.read_text())
        config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModelForCausalLM": "evil.EvilConfig"}
        config_file.write_text(json.dumps(config))
    path = tmp_path / "c.db"
    try:
        with Campaign.create(path, config_for(models, budget={"trials": 1, "initial": 1})) as campaign:
            campaign.run()
    except MmmoError:
        assert not path.exists()  # refused before the file exists is as good as ignored
    assert not marker.exists()


def test_a_killed_creation_leaves_no_campaign_file(models, tmp_path):
    """SIGKILL while creating: the file appears complete or not at all."""
    script = (
        "import os, signal, sys\n"
        "import mmmo.store as store\n"
        "real = os.link\n"
        "def die(*a):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "os.link = die\n"
        "from mmmo.campaign import Campaign\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "from faultlib import config_for\n"
        "from pathlib import Path\n"
        "Campaign.create(sys.argv[1], config_for(Path(sys.argv[3])))\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "c.db"),
                             str(TESTS / "faults"), str(models)], capture_output=True, text=True)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert not (tmp_path / "c.db").exists()
    Campaign.create(tmp_path / "c.db", config_for(models)).close()  # no "already exists" to clean up by hand
