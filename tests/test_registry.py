"""Registries: a user's own objective kind, merge method and proposer, from outside the package.

One plugin module is written to a temporary folder: it is registered from
Python in one test and found through entry points (a ``.dist-info`` folder
beside it, as ``pip install`` would leave) in another; both run a campaign.
"""

from __future__ import annotations

import textwrap

import pytest

from mmmo.campaign import Campaign
from mmmo.config import parse_config
from mmmo.errors import ConfigError, MergeError
from mmmo.merge.methods import get_method
from mmmo.registry import MERGE_METHODS, OBJECTIVES, PROPOSERS, Registry

PLUGIN = textwrap.dedent(
    '''
    import torch

    from mmmo.merge.base import MergeMethod
    from mmmo.objectives.base import Measurement
    from mmmo.objectives.kinds import ObjectiveKind


    class FirstWeightNorm:
        """The norm of the first parameter, times a scale from the config's options."""

        direction = "minimize"

        def __init__(self, name, scale):
            self.name, self.scale = name, scale

        def evaluate(self, model, tokenizer):
            first = next(model.parameters())
            return Measurement(value=self.scale * float(first.detach().norm()))


    def build_norm(spec, context):
        return FirstWeightNorm(spec.resolved_name, spec.options.get("scale", 1.0))


    WEIGHT_NORM = ObjectiveKind("plugin_weight_norm", build_norm, direction="minimize")


    def merge_first_only(job):
        """base + w_0 * delta_0: only the first source counts."""
        job.out.copy_(job.base).add_(job.deltas[0], alpha=job.params[0].weight)


    FIRST_ONLY = MergeMethod(name="plugin_first_only", merge=merge_first_only)


    class CentreProposer:
        """Proposes the centre of the cube, every time."""

        name = "plugin_centre"

        def __init__(self, seed=0):
            self.seed = seed

        def propose(self, X, Y, pending, n, ref_point=None):
            return torch.full((n, X.shape[1]), 0.5, dtype=torch.float64)
    '''
)

ENTRY_POINTS = textwrap.dedent(
    """
    [mmmo.objectives]
    plugin_weight_norm = mmmo_test_plugin:WEIGHT_NORM

    [mmmo.merge_methods]
    plugin_first_only = mmmo_test_plugin:FIRST_ONLY

    [mmmo.proposers]
    plugin_centre = mmmo_test_plugin:CentreProposer
    """
)


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """The plugin module, importable; removed from every registry afterwards."""
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "mmmo_test_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(__import__("sys").modules, "mmmo_test_plugin", raising=False)
    yield folder
    for registry, name in ((OBJECTIVES, "plugin_weight_norm"), (MERGE_METHODS, "plugin_first_only"),
                           (PROPOSERS, "plugin_centre")):
        registry.unregister(name)


def _campaign_config(tiny_zoo):
    experts = list(tiny_zoo.experts.items())[:2]
    return {
        "base": str(tiny_zoo.base),
        "models": [{"path": str(path), "name": name} for name, path in experts],
        "space": {"method": "plugin_first_only", "parameters": {"weight": [0.0, 1.0]}},
        "objectives": [
            {"kind": "plugin_weight_norm", "name": "norm", "options": {"scale": 2.0}},
            {"kind": "exact_match", "data": str(tiny_zoo.tasks[experts[0][0]].test), "limit": 4, "name": "em"},
        ],
        "proposer": "plugin_centre",
        "budget": {"trials": 3, "initial": 1},
        "recipes": False,
        "device": "cpu",
    }


def _check_campaign(campaign):
    trials = campaign.trials()
    assert set(trials["status"]) == {"complete"}, trials["error"].tolist()
    searched = trials[trials["proposer"] == "plugin_centre"]
    # The initial design (one point: the plugin method places no reference in the space), the design
    # again while fewer than two points are known, then the user's proposer.
    assert trials["proposer"].tolist()[-3:] == ["design", "design", "plugin_centre"]
    assert campaign.directions == ("minimize", "maximize")
    norms = trials["norm"].tolist()
    assert all(n > 0 for n in norms)
    # The centre point merges half of the first source's task vector: its norm differs from the base's.
    assert searched["norm"].iloc[0] != pytest.approx(trials[trials["label"] == "base"]["norm"].iloc[0])


def test_registered_from_python_run_a_campaign(plugin, tiny_zoo, tmp_path):
    import mmmo_test_plugin as p

    OBJECTIVES.register("plugin_weight_norm", p.WEIGHT_NORM)
    MERGE_METHODS.register("plugin_first_only", p.FIRST_ONLY)
    PROPOSERS.register("plugin_centre", p.CentreProposer)
    with Campaign.create(tmp_path / "c.sqlite", _campaign_config(tiny_zoo)) as campaign:
        campaign.run()
        _check_campaign(campaign)


def test_entry_points_run_a_campaign(plugin, tiny_zoo, tmp_path):
    info = plugin / "mmmo_test_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mmmo-test-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    assert "plugin_first_only" in MERGE_METHODS.names() and "plugin_centre" in PROPOSERS
    assert get_method("plugin_first_only").name == "plugin_first_only"
    with Campaign.create(tmp_path / "c.sqlite", _campaign_config(tiny_zoo)) as campaign:
        campaign.run()
        _check_campaign(campaign)


def test_unknown_names_list_the_registered_ones(plugin, tiny_zoo):
    config = _campaign_config(tiny_zoo)
    with pytest.raises(ConfigError, match=r"space\.method: Value error, unknown method 'plugin_first_only'"):
        parse_config(config, source="c.yaml")
    with pytest.raises(ConfigError, match=r"objectives\.0\.kind: .*unknown objective kind 'plugin_weight_norm'; "
                                          r"expected one of exact_match"):
        parse_config({**config, "space": "dare_ties"}, source="c.yaml")
    with pytest.raises(MergeError, match="unknown merge method 'plugin_first_only'"):
        get_method("plugin_first_only")


def test_registration_is_checked():
    registry = Registry("merge method", "space.method", "mmmo.test_group", {"linear": "mmmo.merge.linear:LINEAR"},
                        MERGE_METHODS._check)
    with pytest.raises(ConfigError, match="'linear' is one of mmmo's own"):
        registry.register("linear", object())
    with pytest.raises(ConfigError, match="must be a MergeMethod, got str"):
        registry.register("mine", "not a method")
    linear = registry.get("linear")
    with pytest.raises(ConfigError, match="registered as 'other' is named 'linear'"):
        registry.register("other", linear)


def test_kind_fields_are_checked():
    base = {"base": "/m/base", "models": ["/m/a"], "space": "dare_ties"}
    with pytest.raises(ConfigError, match=r"objectives\.0: .*kind 'perplexity' does not use 'stop'"):
        parse_config({**base, "objectives": [{"kind": "perplexity", "data": "t.txt", "stop": ["\n"]}]})
    with pytest.raises(ConfigError, match=r"objectives\.0: .*kind 'lm_eval' needs 'task'"):
        parse_config({**base, "objectives": [{"kind": "lm_eval"}]})
    # Fields every kind accepted before kinds had records stay accepted: stored campaigns hold them.
    parse_config({**base, "objectives": [{"kind": "delta_l2", "max_new_tokens": 5, "metric": "x"}]})


def test_broken_entry_point_is_named(tmp_path, monkeypatch):
    info = tmp_path / "broken_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[mmmo.proposers]\nbroken = no_such_module_here:Thing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match="proposer 'broken' comes from entry point 'no_such_module_here:Thing'"):
        PROPOSERS.get("broken")
