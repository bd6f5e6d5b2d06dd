from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mmmo.errors import MmmoError
from mmmo.plots.data import front_data, hypervolume_data, parameter_columns, parameter_data

from .conftest import OBJECTIVES, SOURCES, synthetic_trials


def _dominated(a, b, signs) -> bool:
    """Whether b dominates a (both maximisation-oriented after signs)."""
    a, b = np.asarray(a) * signs, np.asarray(b) * signs
    return bool((b >= a).all() and (b > a).any())


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_front_matches_brute_force_dominance(trials, direction):
    directions = {o: direction for o in OBJECTIVES}
    data = front_data(trials, directions)
    signs = np.array([1.0 if direction == "maximize" else -1.0] * len(OBJECTIVES))
    points = data.searched + data.references
    for p in points:
        beaten = any(_dominated(p.values, q.values, signs) for q in points if q is not p)
        assert p.on_front == (not beaten), p
    assert data.front and all(p.on_front for p in data.front)


def test_front_keeps_only_complete_trials_and_splits_references(trials, directions):
    data = front_data(trials, directions)
    complete = trials[trials["status"] == "complete"]
    assert len(data.searched) + len(data.references) == len(complete)
    assert {p.label for p in data.references} == {
        "base", *SOURCES, "recipe:linear", "recipe:task_arithmetic", "recipe:ties", "recipe:dare_ties"
    }
    assert all(p.label is None for p in data.searched)
    kinds = {p.label: p.reference_kind for p in data.references}
    assert kinds["base"] == "base" and kinds["math"] == "source" and kinds["recipe:ties"] == "recipe"
    names = {p.label: p.display_label for p in data.references}
    assert names["recipe:linear"] == "uniform average" and names["recipe:dare_ties"] == "DARE-TIES"
    assert data.objectives == OBJECTIVES and data.pairs == ((0, 1), (0, 2), (1, 2))


def test_front_ignores_complete_trials_with_missing_scores(trials, directions):
    trials.loc[trials["trial_id"] == 8, "math_em"] = float("nan")
    ids = {p.trial_id for p in front_data(trials, directions).searched}
    assert 8 not in ids and 9 in ids


def test_front_names_missing_objective_column(trials):
    with pytest.raises(MmmoError, match="lacks columns \\['speed'\\]"):
        front_data(trials, {"math_em": "maximize", "speed": "minimize"})


def test_parameter_data_rows_are_front_members_with_parameters(trials, directions):
    front = {p.trial_id: p for p in front_data(trials, directions).front}
    data = parameter_data(trials, directions)
    assert data.parameters == parameter_columns(trials)
    assert len(data.parameters) == 2 * len(SOURCES)
    # Every front member has a row: references carry their plans' values.
    assert sorted(data.trial_ids) == sorted(front)
    first = [front[t].values[0] for t in data.trial_ids]
    assert first == sorted(first, reverse=True)
    table = trials.set_index("trial_id")
    for trial_id, row in zip(data.trial_ids, data.values):
        expected = table.loc[trial_id, list(data.parameters)].astype(float).tolist()
        assert row == pytest.approx(expected, nan_ok=True)
    assert all(label.startswith(front[t].display_label) for t, label in zip(data.trial_ids, data.row_labels))
    assert len({label.index(" | ") for label in data.row_labels}) == 1  # scores line up


def test_parameter_data_orders_minimised_first_objective_ascending(trials):
    directions = {o: "minimize" for o in OBJECTIVES}
    data = parameter_data(trials, directions)
    table = trials.set_index("trial_id")
    first = [float(table.loc[t, OBJECTIVES[0]]) for t in data.trial_ids]
    assert first == sorted(first)


def test_parameter_data_shows_nan_where_a_member_lacks_a_parameter(directions):
    trials = synthetic_trials(n_searched=0)
    trials.loc[trials["label"] == "recipe:dare_ties", "density[all][code]"] = float("nan")
    data = parameter_data(trials, directions)
    # Without searched trials the sources and DARE-TIES (best on all at once) make the front.
    assert [label.split()[0] for label in data.row_labels] == ["math", "DARE-TIES", "code", "copy"]
    dare = data.values[1]
    assert math.isnan(dare[data.parameters.index("density[all][code]")])
    assert dare[data.parameters.index("density[all][math]")] == 0.5


def test_parameter_data_can_restrict_columns_and_names_unknown_ones(trials, directions):
    data = parameter_data(trials, directions, parameters=["weight[all][math]"])
    assert data.parameters == ("weight[all][math]",) and all(len(row) == 1 for row in data.values)
    with pytest.raises(MmmoError, match="weight\\[all\\]\\[poetry\\]"):
        parameter_data(trials, directions, parameters=["weight[all][poetry]"])


def test_hypervolume_data_keeps_last_value_per_searched_count():
    # Finish order: three references, then searched trials (a batch of two finishing together).
    history = pd.DataFrame({
        "trial_id": [0, 1, 2, 3, 4, 5],
        "label": ["base", "math", "recipe:ties", None, None, None],
        "n_searched": [0, 0, 0, 1, 2, 3],
        "hypervolume": [0.0, 0.1, 0.15, 0.15, 0.3, 0.3],
    })
    data = hypervolume_data(history)
    assert data.trials == (0, 1, 2, 3) and data.hypervolume == (0.15, 0.15, 0.3, 0.3)
    assert data.reference_hypervolume == 0.15
    without_references = hypervolume_data(history[history["n_searched"] > 0])
    assert without_references.reference_hypervolume is None and without_references.trials == (1, 2, 3)


def test_hypervolume_data_names_missing_column():
    with pytest.raises(MmmoError, match="hypervolume"):
        hypervolume_data(pd.DataFrame({"n_searched": [1]}))
