"""The asynchronous run loop, with an executor of two in-process workers that answer in order."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import mmmo.campaign
from mmmo.campaign import Campaign
from mmmo.evaluation import TrialOutcome
from mmmo.objectives.base import Measurement


class TwoWorkers:
    """Two workers; each wait() answers the oldest request in flight, so the other one keeps running."""

    workers = 2
    lookahead = 1

    def __init__(self) -> None:
        self.in_flight: list = []
        self.spans: dict[int, list] = {}  # trial id -> [sent, answered]

    def start(self):
        return ("maximize", "maximize")

    def free(self) -> int:
        return self.workers - len(self.in_flight)

    def submit(self, request) -> str:
        self.in_flight.append(request)
        self.spans[request.trial_id] = [time.time(), None]
        return f"w{len(self.in_flight)}"

    def wait(self, timeout=None):
        if not self.in_flight:
            return []
        time.sleep(0.1)
        request = self.in_flight.pop(0)
        self.spans[request.trial_id][1] = time.time()
        weights = [p["weight"] for p in request.plan["params"]["all"]]
        values = {"f1": Measurement(weights[0]).to_dict(), "f2": Measurement(-weights[0] + weights[1]).to_dict()}
        return [TrialOutcome(request.trial_id, "complete", values, 0.0, 0.05, worker="w")]

    def close(self) -> None:
        pass


@pytest.fixture
def campaign(tiny_zoo, tmp_path, monkeypatch):
    executor = TwoWorkers()
    monkeypatch.setattr(mmmo.campaign, "make_executor", lambda config, local, **options: executor)
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    names = list(tiny_zoo.expert_tasks[:2])
    config = {
        "base": str(tiny_zoo.base),
        "models": [{"path": str(tiny_zoo.experts[t]), "name": t} for t in names],
        "space": "task_arithmetic",
        "objectives": [{"kind": "callable", "function": "campaign_worker:head_sum", "name": n} for n in ("f1", "f2")],
        # No initial design: every point is the Sobol proposer's, so one spy sees them all.
        "budget": {"trials": 8, "initial": 0, "batch_size": 1},
        "proposer": "sobol",
        "recipes": False,
        "device": "cpu",
    }
    with Campaign.create(tmp_path / "c.sqlite", config) as campaign:
        yield campaign, executor


def test_a_point_is_proposed_whenever_a_worker_frees_with_the_running_trials_pending(campaign, monkeypatch):
    campaign, executor = campaign
    calls = []
    proposer = campaign._proposer("sobol")
    real = proposer.propose

    def spy(X, Y, pending, n, ref_point=None):
        start = time.time()
        time.sleep(0.05)
        calls.append((len(X), len(pending), n, threading.current_thread().name, start, time.time()))
        return real(X, Y, pending, n, ref_point)

    monkeypatch.setattr(proposer, "propose", spy)
    campaign.run()
    records = campaign._store.trials()
    assert sum(r.is_searched for r in records) == 8 and all(r.status == "complete" for r in records)
    # Points are asked for as workers free (one ahead), never a batch per round; the
    # trials in flight or waiting are pending, so every point is counted once.
    sizes = [n for _, _, n, _, _, _ in calls]
    assert sum(sizes) == 8 and max(sizes) <= 2 and sizes.count(1) >= 4
    assert all(pending >= 1 for _, pending, _, _, _, _ in calls)
    counted = [known + pending for known, pending, *_ in calls]
    assert counted == [3 + sum(sizes[:i]) for i in range(len(sizes))]
    assert all(name.startswith("mmmo-propose") for _, _, _, name, _, _ in calls)
    # Proposing overlaps evaluation: a trial was being evaluated during every proposal.
    spans = executor.spans.values()
    assert all(any(sent < end and answered > start for sent, answered in spans) for *_, start, end in calls)

class DyingWorker(TwoWorkers):
    """Its worker dies on every trial of the first source's reference plan; the rest complete."""

    def wait(self, timeout=None):
        if self.in_flight and self.in_flight[0].plan["params"]["all"][0]["weight"] == 1.0:
            return [TrialOutcome.lost(self.in_flight.pop(0).trial_id, "w", "worker w died: SIGKILL")]
        return super().wait(timeout)


def test_a_trial_whose_worker_keeps_dying_runs_again_then_fails(campaign, monkeypatch, caplog):
    campaign, _ = campaign
    monkeypatch.setattr(mmmo.campaign, "make_executor", lambda config, local, **options: DyingWorker())
    with caplog.at_level("WARNING", logger="mmmo.campaign"):
        reports = campaign.run()
    records = campaign._store.trials()
    source = next(r for r in records if r.label == campaign.config.model_names[0])
    assert source.status == "failed" and source.attempts == mmmo.campaign.MAX_ATTEMPTS == 3
    assert source.error == "its worker died on each of 3 attempts; last: worker w died: SIGKILL"
    assert caplog.text.count(f"trial {source.trial_id} runs again") == 2
    assert [r.trial_id for r in reports].count(source.trial_id) == 1  # reported once, when it failed
    assert sum(r.is_searched and r.status == "complete" for r in records) == 8
