from __future__ import annotations

import pandas as pd
import pytest

from mmmo.plots import draw
from mmmo.plots.data import front_data, hypervolume_data, parameter_data

from .conftest import OBJECTIVES, synthetic_trials


def _read_png(path):
    from matplotlib.image import imread

    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    return image


@pytest.mark.parametrize(("m", "panels"), [(1, 1), (2, 1), (3, 3), (4, 6)])
def test_front_has_one_panel_per_objective_pair(tmp_path, m, panels):
    objectives = tuple(f"task{k}" for k in range(m))
    data = front_data(synthetic_trials(objectives=objectives), {o: "maximize" for o in objectives})
    fig = draw.draw_front(data)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == panels
    if m >= 2:
        # Every reference is labelled by name in every panel.
        texts = {t.get_text() for t in visible[0].texts}
        assert {"base", "math", "uniform average", "DARE-TIES"} <= texts
        assert "higher is better" in visible[0].get_xlabel()
    _read_png(draw.save(fig, tmp_path / "sub" / "front.png"))


def test_front_draws_staircase_only_for_two_objectives():
    two = ("a", "b")
    fig = draw.draw_front(front_data(synthetic_trials(objectives=two), dict.fromkeys(two, "maximize")))
    assert len(fig.axes[0].lines) == 1
    three = draw.draw_front(front_data(synthetic_trials(), dict.fromkeys(OBJECTIVES, "maximize")))
    assert all(len(ax.lines) == 0 for ax in three.axes)


def test_empty_campaign_draws_a_message_instead_of_failing(tmp_path):
    trials = synthetic_trials(n_searched=0)
    trials["status"] = "running"  # nothing complete
    directions = dict.fromkeys(OBJECTIVES, "maximize")
    front = draw.draw_front(front_data(trials, directions))
    assert "no complete trials yet" in {t.get_text() for t in front.axes[0].texts}
    params = draw.draw_parameters(parameter_data(trials, directions))
    assert any("no front member" in t.get_text() for t in params.axes[0].texts)
    hv = draw.draw_hypervolume(hypervolume_data(pd.DataFrame({"n_searched": [], "hypervolume": []})))
    _read_png(draw.save(hv, tmp_path / "hv.png"))


def test_hypervolume_marks_references_line(tmp_path):
    data = hypervolume_data(pd.DataFrame({"n_searched": [0, 1, 2], "hypervolume": [0.1, 0.2, 0.4]}))
    fig = draw.draw_hypervolume(data)
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert "base, sources and recipes alone" in labels
    _read_png(draw.save(fig, tmp_path / "hv.png"))


def test_parameters_heat_map_has_a_cell_per_value(tmp_path):
    directions = dict.fromkeys(OBJECTIVES, "maximize")
    data = parameter_data(synthetic_trials(), directions)
    fig = draw.draw_parameters(data, OBJECTIVES)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()][0] == "weight math"
    assert len(ax.texts) == sum(1 for row in data.values for v in row if v == v)
    _read_png(draw.save(fig, tmp_path / "parameters.png"))


def test_short_parameter_name():
    assert draw.short_parameter_name("weight[all][math]") == "weight math"
    assert draw.short_parameter_name("density[block0][code]") == "density block0 code"
    assert draw.short_parameter_name("method") == "method"


def test_label_groups_merge_coincident_references_and_lift_neighbours():
    from mmmo.plots.data import FrontData, Point

    references = (
        Point(0, (0.0, 0.0), False, "base"),
        Point(1, (0.0, 0.0), False, "recipe:linear"),
        Point(2, (0.05, 0.0), False, "recipe:ties"),  # near, but not at the same spot
        Point(3, (1.0, 0.0), True, "math"),
        Point(4, (0.0, 1.0), True, "code"),
    )
    data = FrontData(("math", "code"), ("maximize", "maximize"), (), references)
    labels = {text: (x, y, color, lift) for x, y, text, color, lift in draw.label_groups(data, 0, 1)}
    assert set(labels) == {"base, uniform average", "TIES", "math", "code"}
    assert labels["base, uniform average"][2] == "0.25"  # mixed kinds: neutral colour
    assert labels["TIES"][3] > labels["base, uniform average"][3] == 0.0
    assert labels["math"][3] == 0.0 and labels["code"][3] == 0.0
