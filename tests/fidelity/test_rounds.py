import torch

from mmmo.fidelity.rounds import fidelity_history, parent_of, promotion_prior
from mmmo.objectives.base import Measurement
from mmmo.trial import TrialRecord


def record(trial_id, status, fidelity, x, parent=None, scores=None, origin="searched"):
    measurements = {}
    if status == "complete":
        measurements = {"a": Measurement(0.5, stderr=0.1, n=4, scores=scores), "b": Measurement(2.0)}
    return TrialRecord(trial_id, status, "promotion" if parent else "sobol", None, x, {}, 0, origin=origin,
                       fidelity=fidelity, measurements=measurements,
                       params={"promoted_from": parent} if parent else None)


def test_history_marks_promotable_superseded_and_pending_trials():
    records = [
        record(1, "complete", 0.25, (0.1,), scores=(1.0, 0.0)),  # promoted, promotion done: superseded
        record(2, "complete", 1.0, (0.1,), parent=1),
        record(3, "complete", 0.25, (0.2,)),  # promotable
        record(4, "complete", 0.25, (0.3,)),  # promotion in flight: neither
        record(5, "running", 1.0, (0.3,), parent=4),
        record(6, "pending", 0.25, (0.4,)),
        record(7, "failed", 0.25, (0.5,)),
    ]
    history = fidelity_history(records, 1, ["a", "b"], ["maximize", "minimize"])
    assert [r.trial_id for r in history.records] == [1, 2, 3, 4, 7]
    assert history.promotable.tolist() == [False, False, True, False, False]
    assert history.superseded.tolist() == [True, False, False, False, False]
    assert history.pending.tolist() == [[0.3], [0.4]]
    assert history.Y[0].tolist() == [0.5, -2.0] and torch.isnan(history.Y[4]).all()
    assert history.Yvar[0, 0].item() == 0.1 ** 2 and torch.isnan(history.Yvar[0, 1])
    assert history.candidates == 5  # trials 1, 3, 4, 6, 7: promotions are not new points
    assert parent_of(records[1]) == 1 and parent_of(records[0]) is None
    assert promotion_prior(records[1], records) == {"a": (1.0, 0.0)}
    assert promotion_prior(records[0], records) is None
