"""Executor configuration: the field, the choice of executor, and a missing Ray."""

import sys

import pytest

from mmmo.campaign import Campaign
from mmmo.config import parse_config
from mmmo.errors import ConfigError
from mmmo.evaluation import make_executor
from mmmo.evaluation.inline import InlineExecutor

from .conftest import TESTS, ray_executor, zoo_config


def test_executor_field_defaults_to_inline_and_validates(tiny_zoo):
    assert parse_config(zoo_config(tiny_zoo)).executor.kind == "inline"
    assert parse_config(zoo_config(tiny_zoo, executor="inline")).executor.workers == 1
    spec = parse_config(zoo_config(tiny_zoo, executor=ray_executor(4, gpus_per_worker=1))).executor
    assert (spec.kind, spec.address, spec.workers, spec.gpus_per_worker) == ("ray", "local", 4, 1.0)
    with pytest.raises(ConfigError, match=r"executor: .*inline executor runs one worker"):
        parse_config(zoo_config(tiny_zoo, executor={"kind": "inline", "workers": 2}))
    with pytest.raises(ConfigError, match=r"executor\.workers"):
        parse_config(zoo_config(tiny_zoo, executor=ray_executor(0)))
    with pytest.raises(ConfigError, match=r"executor\.kind"):
        parse_config(zoo_config(tiny_zoo, executor={"kind": "dask"}))


def test_inline_is_made_for_inline_configs(tiny_zoo):
    assert isinstance(make_executor(parse_config(zoo_config(tiny_zoo)), lambda fresh: None), InlineExecutor)


def test_ray_missing_is_a_clear_error_before_any_trial(tiny_zoo, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))  # the probe objective's module
    config = zoo_config(tiny_zoo, executor=ray_executor())
    with Campaign.create(tmp_path / "made.sqlite", config) as campaign:
        monkeypatch.setitem(sys.modules, "ray", None)  # Ray uninstalled after the campaign was made
        with pytest.raises(ConfigError, match=r"pip install 'mmmo\[ray\]'"):
            campaign.run()
        assert campaign._store.trials() == []
    # Without Ray, a new campaign is refused before its file exists.
    with pytest.raises(ConfigError, match=r"executor\.kind: 'ray' needs Ray.*pip install 'mmmo\[ray\]'"):
        Campaign.create(tmp_path / "new.sqlite", config)
    assert not (tmp_path / "new.sqlite").exists()


def test_reachability_check_names_the_address():
    import socket

    from mmmo.errors import ExecutorError
    from mmmo.evaluation.ray_executor import check_reachable

    with pytest.raises(ExecutorError, match=r"'head:port' is not HOST:PORT"):
        check_reachable("head:port")
    with socket.socket() as server:  # a port that listens is reachable, under either spelling
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        check_reachable(f"127.0.0.1:{port}")
        check_reachable(f"ray://127.0.0.1:{port}")
    with pytest.raises(ExecutorError, match=rf"cannot reach the Ray cluster at ray://127\.0\.0\.1:{port}"):
        check_reachable(f"ray://127.0.0.1:{port}", timeout=1.0)


def test_ray_is_imported_only_when_a_ray_executor_starts():
    import subprocess

    code = "import sys, mmmo.campaign, mmmo.cli, mmmo.evaluation; print('ray' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
