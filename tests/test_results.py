import math

import pandas as pd
import pytest
import torch

from mmmo.config import SpaceConfig
from mmmo.errors import ConfigError
from mmmo.objectives.base import Measurement
from mmmo.plan import MergePlan
from mmmo.results import chebyshev_select, hypervolume_table, objective_matrix, trials_table
from mmmo.search.space import SearchSpace
from mmmo.trial import TrialRecord


def record(trial_id, values, status="complete", proposer="sobol", finished_at=None, plan=None):
    return TrialRecord(
        trial_id=trial_id, status=status, proposer=proposer, label=None, x=None, plan=plan, seed=0,
        measurements={k: (Measurement(v) if v is not None else Measurement.failure("x")) for k, v in values.items()},
        finished_at=finished_at if finished_at is not None else float(trial_id), origin="searched",
    )


def test_objective_matrix_orients_and_blanks_incomplete_rows():
    records = [
        record(1, {"acc": 0.5, "ppl": 10.0}),
        record(2, {"acc": 0.7, "ppl": None}, status="failed"),
        record(3, {"acc": 0.1, "ppl": 2.0}, status="running"),
    ]
    Y = objective_matrix(records, ["acc", "ppl"], ["maximize", "minimize"])
    assert Y[0].tolist() == [0.5, -10.0]
    assert torch.isnan(Y[1:]).all()


def test_trials_table_reads_parameters_from_plans():
    config = SpaceConfig.model_validate({"method": ["ties", "dare_ties"], "parameters": {"weight": [0, 2]}})
    space = SearchSpace(config, ("a", "b"), 2)
    plan = MergePlan.uniform("dare_ties", ("a", "b"), weight=[0.5, 1.5]).to_dict()
    records = [record(1, {"acc": 0.5}, plan=plan), record(2, {"acc": None}, status="failed")]
    table = trials_table(records, space, ["acc"])
    assert table.loc[0, "method"] == "dare_ties"
    assert (table.loc[0, "weight[all][a]"], table.loc[0, "weight[all][b]"]) == (0.5, 1.5)
    assert math.isnan(table.loc[1, "weight[all][a]"]) and math.isnan(table.loc[1, "acc"])
    assert "method" in table.columns and list(table.columns).count("method") == 1


def test_hypervolume_table_follows_finish_order():
    records = [record(1, {"f": 1.0, "g": 0.0}, finished_at=5.0), record(2, {"f": 0.0, "g": 1.0}, finished_at=1.0)]
    Y = objective_matrix(records, ["f", "g"], ["maximize", "maximize"])
    table = hypervolume_table(records, Y, torch.tensor([-1.0, -1.0], dtype=torch.float64))
    assert table["trial_id"].tolist() == [2, 1]
    assert table["hypervolume"].tolist() == pytest.approx([2.0, 3.0])
    assert table["n_searched"].tolist() == [1, 2]
    assert hypervolume_table(records, Y, None).empty


def test_chebyshev_select_follows_the_preference():
    front = pd.DataFrame({"acc": [0.9, 0.6, 0.2], "size": [9.0, 5.0, 1.0]})
    directions = ["maximize", "minimize"]
    assert chebyshev_select(front, ["acc", "size"], directions, {"acc": 1.0}).name == 0
    assert chebyshev_select(front, ["acc", "size"], directions, {"size": 1.0}).name == 2
    assert chebyshev_select(front, ["acc", "size"], directions, [1.0, 1.0]).name == 1
    with pytest.raises(ConfigError, match="2 objectives"):
        chebyshev_select(front, ["acc", "size"], directions, [1.0])
    with pytest.raises(ConfigError, match=">= 0"):
        chebyshev_select(front, ["acc", "size"], directions, [1.0, -1.0])
    with pytest.raises(ConfigError, match="no complete trial"):
        chebyshev_select(front.iloc[:0], ["acc", "size"], directions, [1.0, 1.0])


def test_objective_noise_is_each_stderr_squared_and_nan_where_unknown():
    from mmmo.results import objective_noise

    rows = [
        TrialRecord(1, "complete", "sobol", None, None, None, 0, origin="searched",
                    measurements={"a": Measurement(0.5, stderr=0.1, n=20), "b": Measurement(3.0)}),
        TrialRecord(2, "failed", "sobol", None, None, None, 0, origin="searched",
                    measurements={"a": Measurement(0.5, stderr=0.1, n=20), "b": Measurement.failure("x")}),
    ]
    Yvar = objective_noise(rows, ["a", "b"])
    assert Yvar[0, 0].item() == pytest.approx(0.01)
    assert math.isnan(Yvar[0, 1]) and torch.isnan(Yvar[1]).all()
