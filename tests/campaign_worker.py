"""Objectives for campaign tests, and a process that runs a campaign (killed by a test).

Usage: ``python tests/campaign_worker.py CAMPAIGN.sqlite`` runs the campaign to
its budget. Running this file as a script puts its folder on ``sys.path``, so
configs name the objectives below as ``campaign_worker:NAME``.
"""

from __future__ import annotations

import os
import sys
import time


def head_sum(model, tokenizer) -> float:
    """A value that changes with every merge: the sum of the LM head's weights."""
    return float(model.lm_head.weight.detach().double().sum())


def slow_head_sum(model, tokenizer) -> float:
    """:func:`head_sum` after a pause (``MMMO_TEST_PAUSE`` seconds), so a kill lands mid-trial."""
    time.sleep(float(os.environ.get("MMMO_TEST_PAUSE", "0")))
    return head_sum(model, tokenizer)


def flaky(model, tokenizer) -> float:
    """Fails on about half of all merges, deterministically per merge."""
    value = head_sum(model, tokenizer)
    if int(abs(value) * 1000) % 2 == 0:
        raise RuntimeError("flaky objective failed")
    return value


def main(path: str) -> None:
    from mmmo.campaign import Campaign

    with Campaign.open(path) as campaign:
        campaign.run(callback=lambda report: print(report.trial_id, report.status, flush=True))


if __name__ == "__main__":
    main(sys.argv[1])
