"""The inline executor, through a campaign on the tiny zoo."""

from mmmo.campaign import Campaign

from .conftest import write_flag, zoo_config


def test_inline_campaign_runs_in_this_process_and_restarts_after_out_of_memory(tiny_zoo, tmp_path, flags):
    write_flag(flags, "oom")  # the first probe call raises a CUDA-style out-of-memory error
    with Campaign.create(tmp_path / "c.sqlite", zoo_config(tiny_zoo)) as campaign:
        reports = campaign.run()
        records = campaign._store.trials()
    assert [r.trial_id for r in reports] == [r.trial_id for r in records]
    failed = [r for r in records if r.status == "failed"]
    assert len(failed) == 1 and failed[0].trial_id == records[0].trial_id
    assert "head: out of memory: CUDA out of memory" in failed[0].error
    # The evaluator that ran out of memory is replaced before the next trial.
    assert failed[0].worker == "inline/0"
    assert {r.worker for r in records[1:]} == {"inline/1"}
    assert sum(r.is_searched for r in records) == 4 and all(r.status == "complete" for r in records[1:])
