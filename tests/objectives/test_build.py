from __future__ import annotations

import json

import pytest

from mmmo.config import ObjectiveSpec
from mmmo.errors import ObjectiveError
from mmmo.objectives import (
    AnswerLogLik,
    CallableObjective,
    ChoiceAccuracy,
    DeltaDensity,
    DeltaNorm,
    ExactMatch,
    Perplexity,
    TokenAccuracy,
    build_objective,
    build_objectives,
    evaluate_objectives,
)


def spec(**fields):
    return ObjectiveSpec.model_validate(fields)


def test_each_kind_builds_its_objective(tmp_path, answers_file, tiny_llama, char_tokenizer):
    choices = tmp_path / "mc.jsonl"
    choices.write_text(json.dumps({"prompt": "ab=", "choices": ["ab", "ba"], "gold": 0}) + "\n")
    texts = tmp_path / "texts.jsonl"
    texts.write_text(json.dumps({"text": "abc"}) + "\n")
    base_state = dict(tiny_llama.state_dict())
    specs = [
        spec(kind="exact_match", data=answers_file, limit=8, max_new_tokens=5),
        spec(kind="token_accuracy", data=answers_file),
        spec(kind="answer_loglik", data=answers_file, batch_size=4),
        spec(kind="choice_accuracy", data=choices),
        spec(kind="perplexity", data=texts),
        spec(kind="delta_l1"),
        spec(kind="delta_l2"),
        spec(kind="delta_density"),
        spec(kind="callable", function="math:fsum", name="custom", direction="minimize"),
    ]
    objectives = build_objectives(specs, char_tokenizer, base_state)
    expected = [
        ExactMatch,
        TokenAccuracy,
        AnswerLogLik,
        ChoiceAccuracy,
        Perplexity,
        DeltaNorm,
        DeltaNorm,
        DeltaDensity,
        CallableObjective,
    ]
    assert [type(o) for o in objectives] == expected
    assert [o.name for o in objectives] == [s.resolved_name for s in specs]
    assert [o.direction for o in objectives] == [s.resolved_direction for s in specs]
    assert len(objectives[0]) == 8 and objectives[0].max_new_tokens == 5
    assert (objectives[5].p, objectives[6].p) == (1, 2)

    results = evaluate_objectives(objectives[:8], tiny_llama, char_tokenizer)
    assert all(m.ok for m in results.values()), results
    assert results["delta_l1"].value == 0.0


def test_direction_in_spec_overrides_kind(answers_file, char_tokenizer):
    objective = build_objective(
        spec(kind="answer_loglik", data=answers_file, direction="minimize"), char_tokenizer
    )
    assert objective.direction == "minimize"
    assert AnswerLogLik.direction == "maximize"  # the class default is untouched


def test_missing_prerequisites_are_refused(tmp_path, answers_file, char_tokenizer):
    with pytest.raises(ObjectiveError, match="needs a tokenizer"):
        build_objective(spec(kind="exact_match", data=answers_file), None)
    with pytest.raises(ObjectiveError, match="needs base_state"):
        build_objective(spec(kind="delta_l1"), char_tokenizer)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a=", "answer": "a"}\n{"prompt": "b="}\n')
    with pytest.raises(ObjectiveError, match=f"{bad}:2: missing field 'answer'"):
        build_objective(spec(kind="token_accuracy", data=bad), char_tokenizer)
    with pytest.raises(ObjectiveError, match="cannot import module"):
        build_objective(spec(kind="callable", function="no_such_module:f"), char_tokenizer)
    with pytest.raises(ObjectiveError, match="must be unique"):
        build_objectives(
            [spec(kind="delta_l1", name="x"), spec(kind="delta_l2", name="x")],
            None,
            {"w": __import__("torch").zeros(1)},
        )


def test_seed_draws_the_data_subsets(answers_file, char_tokenizer):
    """The campaign's seed reaches every data objective's ``limit`` subsample."""
    specs = [spec(kind="exact_match", data=answers_file, limit=8, name="em"),
             spec(kind="token_accuracy", data=answers_file, limit=8, name="acc")]
    first = build_objectives(specs, char_tokenizer, seed=1)
    again = build_objectives(specs, char_tokenizer, seed=1)
    other = build_objectives(specs, char_tokenizer, seed=2)
    for a, b, c in zip(first, again, other, strict=True):
        assert a.examples == b.examples
        assert a.examples != c.examples
