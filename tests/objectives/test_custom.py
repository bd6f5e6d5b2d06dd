from __future__ import annotations

import math

import pytest

from mmmo.errors import ObjectiveError
from mmmo.objectives.base import Measurement
from mmmo.objectives.custom import CallableObjective, import_function


def parameter_count(model, tokenizer):
    return sum(p.numel() for p in model.parameters())


def test_number_and_measurement_results(tiny_llama, char_tokenizer):
    count = CallableObjective("params", parameter_count, "minimize").evaluate(tiny_llama, char_tokenizer)
    assert count.ok and count.value == sum(p.numel() for p in tiny_llama.parameters())
    given = CallableObjective("m", lambda m, t: Measurement(0.25, stderr=0.1, n=4)).evaluate(None, None)
    assert (given.value, given.stderr, given.n) == (0.25, 0.1, 4) and given.seconds > 0


@pytest.mark.parametrize(
    ("function", "error"),
    [
        (lambda m, t: 1 / 0, "ZeroDivisionError: division by zero"),
        (lambda m, t: math.nan, "NaN"),
        (lambda m, t: math.inf, "non-finite value inf"),
        (lambda m, t: "high", "returned str, not a number"),
        (lambda m, t: Measurement(math.nan), "NaN"),
    ],
)
def test_failures_become_measurements(function, error):
    measured = CallableObjective("f", function).evaluate(None, None)
    assert not measured.ok and measured.value is None
    assert error in measured.error


def test_import_function():
    assert import_function("math:sqrt") is math.sqrt
    assert import_function("os.path:join") is __import__("os").path.join
    with pytest.raises(ObjectiveError, match="cannot import module 'no_such_module'"):
        import_function("no_such_module:f")
    with pytest.raises(ObjectiveError, match="has no attribute 'nope'"):
        import_function("math:nope")
    with pytest.raises(ObjectiveError, match="module:attribute"):
        import_function("math.sqrt")
    with pytest.raises(ObjectiveError, match="not callable"):
        import_function("math:pi")


def test_callable_beside_the_config_file_is_found_without_pythonpath(tmp_path, tiny_llama, char_tokenizer):
    import sys

    import yaml

    from mmmo.config import load_config
    from mmmo.objectives.build import build_objective

    folder = tmp_path / "campaign"
    folder.mkdir()
    (folder / "beside_config_scores.py").write_text(
        "def layer_count(model, tokenizer):\n    return float(model.config.num_hidden_layers)\n"
    )
    config = {
        "base": "base",
        "models": ["a", "b"],
        "space": "task_arithmetic",
        "objectives": [{"kind": "callable", "function": "beside_config_scores:layer_count"}],
    }
    (folder / "campaign.yaml").write_text(yaml.safe_dump(config))
    path_before = list(sys.path)
    spec = load_config(folder / "campaign.yaml").objectives[0]
    assert spec.function_dir == folder.resolve()
    objective = build_objective(spec, char_tokenizer)
    assert objective.evaluate(tiny_llama, char_tokenizer).value == tiny_llama.config.num_hidden_layers
    assert sys.path == path_before  # the folder was on the path for the import only


def test_callable_not_beside_the_config_nor_on_pythonpath_names_both(tmp_path):
    with pytest.raises(ObjectiveError, match=r"cannot import module 'nowhere_scores' \(in .* or on PYTHONPATH\)"):
        import_function("nowhere_scores:f", tmp_path)
    # A module on PYTHONPATH is still found when the folder lacks it.
    assert import_function("math:sqrt", tmp_path) is math.sqrt
