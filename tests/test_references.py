from mmmo.references import reference_trials


def test_reference_plans():
    references = {r.label: r for r in reference_trials(("x", "y", "z"), recipes=True, seed=5)}
    assert list(references) == [
        "base", "x", "y", "z", "recipe:linear", "recipe:task_arithmetic", "recipe:ties", "recipe:dare_ties",
    ]
    assert [p.weight for p in references["base"].plan.params["all"]] == [0.0, 0.0, 0.0]
    assert [p.weight for p in references["y"].plan.params["all"]] == [0.0, 1.0, 0.0]
    assert references["y"].kind == "source" and references["y"].source == "y"
    assert [p.weight for p in references["recipe:linear"].plan.params["all"]] == [1 / 3] * 3
    assert [(p.weight, p.density) for p in references["recipe:dare_ties"].plan.params["all"]] == [(1.0, 0.5)] * 3
    assert all(r.plan.seed == 5 for r in references.values())
    assert [r.label for r in reference_trials(("x",), recipes=False)] == ["base", "x"]
