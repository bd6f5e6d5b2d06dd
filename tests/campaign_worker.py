"""Objectives for campaign tests, and a process that runs a campaign (killed by a test).

Usage: ``python tests/campaign_worker.py CAMPAIGN.sqlite [RAY_ADDRESS]`` runs the
campaign to its budget (joining the Ray instance at ``RAY_ADDRESS`` first). Running this file as a script puts its folder on ``sys.path``, so
configs name the objectives below as ``campaign_worker:NAME``.
"""

from __future__ import annotations

import json
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


def ray_probe(model, tokenizer) -> float:
    """:func:`head_sum`, steered by files in the folder ``MMMO_TEST_FLAGS`` names (workers see it).

    ``pause``: sleep that many seconds first, so a kill lands mid-trial; while it sleeps,
    ``pausing-PID`` holds the time its pause ends.
    ``oom``: the first call to remove it raises a CUDA-style out-of-memory error.
    """
    flags = os.environ.get("MMMO_TEST_FLAGS")
    if flags:
        pause = os.path.join(flags, "pause")
        if os.path.exists(pause):
            with open(pause) as f:
                seconds = float(f.read() or 0)
            # Tells a test which worker is in its pause, and until when, so a kill lands mid-trial.
            marker = os.path.join(flags, f"pausing-{os.getpid()}")
            with open(marker, "w") as f:
                f.write(repr(time.time() + seconds))
            time.sleep(seconds)
            os.remove(marker)
        try:
            os.remove(os.path.join(flags, "oom"))
        except FileNotFoundError:
            pass
        else:
            import torch

            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
    return head_sum(model, tokenizer)


def main(path: str, ray_address: str | None = None) -> None:
    from mmmo.campaign import Campaign

    if ray_address is not None:  # join the tests' Ray instance, as ``mmmo run`` on a cluster node would
        import ray

        ray.init(address=ray_address, runtime_env={"env_vars": json.loads(os.environ["MMMO_TEST_RAY_ENV"])})

    with Campaign.open(path) as campaign:
        campaign.run(callback=lambda report: print(report.trial_id, report.status, flush=True))


if __name__ == "__main__":
    main(*sys.argv[1:])
