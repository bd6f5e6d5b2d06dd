"""Item: exit 2 and one line naming the file, field or value; clean stops on SIGTERM and a closed pipe."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml
from faultlib import assert_clean_error, config_for, mmmo

from mmmo.campaign import Campaign


def _write(tmp_path, config, name="c.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_binary_or_non_utf8_config_exits_2_naming_it(tmp_path):
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(bytes(range(256)))
    assert_clean_error(mmmo("run", binary), 2, str(binary), "not a UTF-8 text file")
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("name: caf\xe9\n".encode("latin-1"))
    assert_clean_error(mmmo("run", latin1), 2, str(latin1), "not a UTF-8 text file")
    assert not list(tmp_path.glob("*.db"))


def test_a_seed_beyond_63_bits_exits_2_naming_it(models, tmp_path):
    path = _write(tmp_path, config_for(models, seed=2**63))
    assert_clean_error(mmmo("run", path), 2, "seed", "less than 9223372036854775808")
    assert not (tmp_path / "c.db").exists()


def test_a_seed_near_2_63_keeps_the_model_based_proposer():
    from botorch.test_utils.mock import mock_optimize_context_manager

    from mmmo.search.proposers import make_proposer

    X = torch.rand(6, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    Y = torch.stack([X.sum(-1), -X.prod(-1)], dim=-1)
    pending = torch.empty(0, 2, dtype=torch.float64)
    with mock_optimize_context_manager():
        points = make_proposer("qlognehvi", seed=2**63 - 1).propose(X, Y, pending, 2)  # raised before
    assert points.shape == (2, 2)
    assert make_proposer("random", seed=2**63 - 1).propose(X, Y, pending, 2).shape == (2, 2)


def test_device_cuda_without_cuda_exits_2(models, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    path = _write(tmp_path, config_for(models, device="cuda"))
    assert_clean_error(mmmo("run", path), 2, "device: 'cuda'")
    assert not (tmp_path / "c.db").exists()


BLOCK_LM_EVAL = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'lm_eval':
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, Block())
from mmmo.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_lm_eval_without_the_extra_exits_2_naming_the_extra(models, tmp_path):
    path = _write(tmp_path, config_for(models, objectives=[{"kind": "lm_eval", "task": "arc_easy"}]))
    result = subprocess.run([sys.executable, "-c", BLOCK_LM_EVAL, "run", str(path)], capture_output=True, text=True)
    assert_clean_error(result, 2, "objectives.0", "lm-eval extra", "mmmo[lm-eval]")
    assert not (tmp_path / "c.db").exists()


def test_a_pickle_only_adapter_exits_2_naming_the_source(models, tmp_path):
    from safetensors.torch import load_file

    adapter = models / "lora"
    state = load_file(adapter / "adapter_model.safetensors")
    torch.save(state, adapter / "adapter_model.bin")
    (adapter / "adapter_model.safetensors").unlink()
    path = _write(tmp_path, config_for(models, models=[str(models / "a"), {"path": str(adapter), "name": "lora"}]))
    assert_clean_error(mmmo("run", path), 2, "source 'lora'", "pickle", "adapter_model.bin")
    assert not (tmp_path / "c.db").exists()


def test_base_errors_say_what_is_wrong(models, tmp_path):
    missing = _write(tmp_path, config_for(models, base=str(tmp_path / "no-such-base")))
    result = mmmo("run", missing)
    assert_clean_error(result, 2, "base: ", "no-such-base", "does not exist")
    assert "Repo id" not in result.stderr
    adapter = _write(tmp_path, config_for(models, base=str(models / "lora")))
    assert_clean_error(mmmo("run", adapter), 2, "base:", "is a PEFT adapter")
    (models / "base" / "config.json").unlink()
    assert_clean_error(mmmo("run", _write(tmp_path, config_for(models))), 2, "base: no config.json")
    assert not list(tmp_path.glob("*.db"))


@pytest.fixture
def finished(models, tmp_path):
    path = tmp_path / "c.db"
    with Campaign.create(path, config_for(models, budget={"trials": 1, "initial": 1})) as campaign:
        campaign.run()
    return path


def test_front_into_a_closed_pipe_ends_quietly(finished):
    process = subprocess.Popen([sys.executable, "-m", "mmmo.cli", "front", str(finished)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader is gone before the table is written, as with `| head -0`
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=300) == 141
    assert "BrokenPipeError" not in stderr and "Traceback" not in stderr and "Exception ignored" not in stderr


def test_sigterm_puts_the_running_trial_back_and_exits_with_a_message(models, tmp_path):
    path = tmp_path / "c.db"
    objectives = [{"kind": "callable", "function": "campaign_worker:slow_head_sum", "name": "head"}]
    Campaign.create(path, config_for(models, objectives=objectives, budget={"trials": 3, "initial": 3})).close()
    env = {**os.environ, "MMMO_TEST_PAUSE": "2"}
    process = subprocess.Popen([sys.executable, "-m", "mmmo.cli", "resume", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        reader = Campaign.open(path, readonly=True)
        deadline = time.monotonic() + 300
        while not any(r.status == "running" for r in reader._store.trials()):
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, stderr
    assert "terminated; completed trials are saved" in stderr and "Traceback" not in stderr
    assert "put back to pending" in stderr
    statuses = [r.status for r in reader._store.trials()]
    reader.close()
    assert "running" not in statuses and "pending" in statuses
