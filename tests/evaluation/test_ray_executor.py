"""Campaigns on a local Ray instance (2 CPU workers, the tiny zoo): budget, parity, faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from mmmo.campaign import Campaign
from mmmo.cli import main as cli_main
from mmmo.errors import ExecutorError

from .conftest import TESTS, ray_executor, write_flag, zoo_config


def _pid(worker: str) -> int:
    return int(worker.rsplit(":", 1)[1])


def test_ray_campaign_reaches_its_budget_with_the_inline_plans_and_scores(ray_session, tiny_zoo, tmp_path, flags):
    inline_config = zoo_config(tiny_zoo)
    with Campaign.create(tmp_path / "inline.sqlite", inline_config) as campaign:
        campaign.run()
        inline = campaign._store.trials()
    with Campaign.create(tmp_path / "ray.sqlite", zoo_config(tiny_zoo, executor=ray_executor(2))) as campaign:
        reports = campaign.run()
        remote = campaign._store.trials()
        table = campaign.trials()
    assert sum(r.is_searched for r in remote) == 4 and all(r.status == "complete" for r in remote)
    assert len(reports) == len(remote) == 3 + 4  # base, two sources, the budget
    # Two Ray workers (host:pid), neither of them this process.
    workers = {r.worker for r in remote}
    assert len(workers) == 2 and all(_pid(w) != os.getpid() for w in workers)
    assert set(table["worker"]) == workers
    # Same trials, plans and scores as the inline executor.
    assert [(r.label, r.origin, r.proposer, r.plan, r.seed) for r in remote] == [
        (r.label, r.origin, r.proposer, r.plan, r.seed) for r in inline
    ]
    for a, b in zip(remote, inline):
        assert {k: m.value for k, m in a.measurements.items()} == pytest.approx(
            {k: m.value for k, m in b.measurements.items()}, rel=1e-9, abs=1e-12
        )


def _kill_a_worker_in_its_pause(flags, searching, done, killed: list[int]) -> None:
    """Once ``searching`` is set, SIGKILL the first worker with over a second of its pause left.

    Only such a worker is surely mid-trial: one about to return may have sent its result already.
    """
    while not (searching.wait(0.1) or done.is_set()):
        pass
    while not done.is_set():
        for marker in flags.glob("pausing-*"):
            try:
                left = float(marker.read_text()) - time.time()
            except (FileNotFoundError, ValueError):  # removed, or being written
                continue
            if left > 1.0:
                pid = int(marker.name.removeprefix("pausing-"))
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
        time.sleep(0.02)


def test_worker_killed_mid_trial_loses_nothing_and_is_restarted(ray_session, tiny_zoo, tmp_path, flags):
    write_flag(flags, "pause", "3")
    killed: list[int] = []
    searching, done = threading.Event(), threading.Event()  # kill during the searched trials, not the references
    killer = threading.Thread(target=_kill_a_worker_in_its_pause, args=(flags, searching, done, killed), daemon=True)
    killer.start()

    def on_report(report):
        if report.label is None:
            searching.set()

    try:
        with Campaign.create(tmp_path / "c.sqlite", zoo_config(tiny_zoo, executor=ray_executor(2))) as campaign:
            campaign.run(callback=on_report)
            records = {r.trial_id: r for r in campaign._store.trials()}
    finally:
        done.set()
        killer.join()
    assert killed, "no worker was in its pause during the searched trials"
    dead = [r for r in records.values() if _pid(r.worker) == killed[0]]
    rerun = [r for r in records.values() if r.attempts == 2]
    assert len(rerun) == 1 and rerun[0].status == "complete" and rerun[0] not in dead  # re-run elsewhere
    searched = [r for r in records.values() if r.is_searched]
    assert len(searched) == 4 and all(r.status == "complete" for r in searched)  # never counted twice
    assert len({r.x for r in searched}) == 4
    assert sum(r.attempts for r in records.values()) == len(records) + 1  # one re-run, nothing else
    assert len({r.worker for r in records.values()}) == 3  # the dead worker's replacement ran trials


def test_worker_out_of_memory_fails_its_trial_and_is_restarted(ray_session, tiny_zoo, tmp_path, flags):
    write_flag(flags, "oom")
    with Campaign.create(tmp_path / "c.sqlite", zoo_config(tiny_zoo, executor=ray_executor(2))) as campaign:
        campaign.run()
        records = campaign._store.trials()
    failed = [r for r in records if r.status == "failed"]
    assert len(failed) == 1 and "head: out of memory: CUDA out of memory" in failed[0].error
    assert failed[0].attempts == 1
    later = [r for r in records if r.created_at > failed[0].finished_at or r.trial_id > failed[0].trial_id + 2]
    assert later and all(r.worker != failed[0].worker for r in later)
    assert len({r.worker for r in records}) == 3  # two workers and the one that replaced the failed one
    assert sum(r.is_searched and r.status == "complete" for r in records) >= 3


def test_unreachable_address_is_named_before_any_trial(tiny_zoo, tmp_path):
    pytest.importorskip("ray")
    config = zoo_config(tiny_zoo, executor=ray_executor(2, address="127.0.0.1:1"))
    with Campaign.create(tmp_path / "c.sqlite", config) as campaign:
        start = time.monotonic()
        with pytest.raises(ExecutorError, match=r"cannot reach the Ray cluster at 127\.0\.0\.1:1"):
            campaign.run()
        assert time.monotonic() - start < 30
        assert campaign._store.trials() == []


def test_more_workers_than_the_cluster_holds_is_refused(ray_session, tiny_zoo, tmp_path):
    config = zoo_config(tiny_zoo, executor=ray_executor(3))
    with Campaign.create(tmp_path / "c.sqlite", config) as campaign:
        with pytest.raises(ExecutorError, match=r"3 workers x 1 CPU need 3 CPUs.* has 2"):
            campaign.run()
        assert campaign._store.trials() == []


def test_killed_campaign_process_resumes_on_new_workers(ray_session, ray_env, tiny_zoo, tmp_path, flags):
    path = tmp_path / "c.sqlite"
    config = zoo_config(tiny_zoo, executor=ray_executor(2), budget={"trials": 6, "initial": 6, "batch_size": 1})
    Campaign.create(path, config).close()
    write_flag(flags, "pause", "0.5")
    address = ray_session.get_runtime_context().gcs_address
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MMMO_TEST_RAY_ENV": json.dumps(ray_env)}
    driver = subprocess.Popen([sys.executable, str(TESTS / "campaign_worker.py"), str(path), address], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        reader = Campaign.open(path, readonly=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            records = reader._store.trials()
            if sum(r.finished and r.is_searched for r in records) >= 1 and any(r.status == "running" for r in records):
                break
            assert driver.poll() is None, driver.stderr.read().decode()[-3000:]
            time.sleep(0.05)
        else:
            pytest.fail("the campaign process did not reach its searched trials in time")
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    finally:
        if driver.poll() is None:
            driver.kill()
    before = {r.trial_id: r for r in reader._store.trials()}
    reader.close()
    running = [r.trial_id for r in before.values() if r.status == "running"]
    assert running

    assert cli_main(["resume", str(path)]) == 0  # in this process: joins the Ray instance it holds
    with Campaign.open(path, readonly=True) as campaign:
        after = {r.trial_id: r for r in campaign._store.trials()}
    for trial_id, record in before.items():
        if record.finished:
            assert after[trial_id] == record
    for trial_id in running:
        assert after[trial_id].status == "complete" and after[trial_id].attempts == 2
        assert after[trial_id].worker not in {r.worker for r in before.values()}  # new workers
    searched = [r for r in after.values() if r.is_searched]
    assert len(searched) == 6 and all(r.status == "complete" for r in searched)
    assert len({r.x for r in searched}) == 6


def test_a_worker_that_cannot_build_its_evaluator_stops_the_run_before_any_trial(
    ray_session, tiny_zoo, tmp_path, monkeypatch
):
    # The objective's module is importable here (so the campaign is created) but not on the workers.
    (tmp_path / "driver_only_objective.py").write_text("def score(model, tokenizer):\n    return 0.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    objectives = [{"kind": "callable", "function": "driver_only_objective:score", "name": "head"}]
    config = zoo_config(tiny_zoo, objectives=objectives, executor=ray_executor(2))
    with Campaign.create(tmp_path / "c.sqlite", config) as campaign:
        reason = r"could not build its evaluator: mmmo\.errors\.ObjectiveError: function 'driver_only_objective:score'"
        with pytest.raises(ExecutorError, match=reason):
            campaign.run()
        assert campaign._store.trials() == []
