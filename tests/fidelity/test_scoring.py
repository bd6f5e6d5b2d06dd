"""Scoring at a fidelity: nested prefixes, promotions that reuse, and full fidelity equal to a fresh evaluation."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from mmmo.fidelity.scoring import evaluate_at_fidelity, objective_order
from mmmo.objectives.answer_scores import AnswerLogLik
from mmmo.objectives.choice_accuracy import ChoiceAccuracy
from mmmo.objectives.data import fidelity_count
from mmmo.objectives.exact_match import ExactMatch
from mmmo.objectives.parameter_space import DeltaNorm
from tests.objectives.conftest import copy_examples, make_char_tokenizer, make_tiny_llama, write_jsonl


@pytest.fixture(scope="module")
def expert(tiny_zoo):
    """Half of an expert's task vector on the base: right on some of its task's examples, not all."""
    task = tiny_zoo.expert_tasks[0]
    model = AutoModelForCausalLM.from_pretrained(tiny_zoo.base, dtype=torch.float32)
    expert = AutoModelForCausalLM.from_pretrained(tiny_zoo.experts[task], dtype=torch.float32).state_dict()
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            tensor.add_(0.5 * (expert[name] - tensor))
    tokenizer = AutoTokenizer.from_pretrained(tiny_zoo.base)
    return model.eval(), tokenizer, tiny_zoo.tasks[task].test


def test_exact_match_promoted_to_full_fidelity_equals_a_fresh_evaluation(expert):
    model, tokenizer, data = expert
    objective = ExactMatch("task", data, tokenizer, limit=60, seed=3)
    fresh = objective.evaluate(model)
    assert 0.0 < fresh.value < 1.0  # a trained expert, neither all wrong nor all right

    low, cost_low = evaluate_at_fidelity([objective], model, tokenizer, 0.25, seed=7)
    prior = {"task": low["task"].scores}
    full, cost_rest = evaluate_at_fidelity([objective], model, tokenizer, 1.0, prior=prior, seed=7)
    assert (cost_low, cost_rest) == (15, 45)  # the promotion scored only the examples it added
    assert full["task"].value == fresh.value and full["task"].stderr == fresh.stderr and full["task"].n == 60
    assert full["task"].scores[:15] == low["task"].scores  # the prefix is reused as it was


def test_the_promotion_scores_exactly_the_examples_after_the_prefix(expert):
    model, tokenizer, data = expert
    objective = ExactMatch("task", data, tokenizer, limit=40, seed=3)
    asked = []
    real = objective.example_scores

    def spy(model, rows):
        asked.append(list(rows))
        return real(model, rows)

    objective.example_scores = spy
    low, _ = evaluate_at_fidelity([objective], model, tokenizer, 0.5, seed=1)
    evaluate_at_fidelity([objective], model, tokenizer, 1.0, prior={"task": low["task"].scores}, seed=1)
    order = objective_order(objective, 1)
    assert asked == [order[:20], order[20:]]
    # A prefix on its own is a valid measurement of those examples.
    fresh_prefix = real(model, order[:20]).double()
    assert low["task"].value == pytest.approx(fresh_prefix.mean().item())


def test_orders_are_fixed_per_seed_and_objective_and_nested():
    tokenizer = make_char_tokenizer()
    path = write_jsonl(__import__("pathlib").Path(__import__("tempfile").mkdtemp()) / "a.jsonl", copy_examples(30, 1))
    a = AnswerLogLik("a", path, tokenizer)
    b = AnswerLogLik("b", path, tokenizer)
    assert objective_order(a, 0) == objective_order(a, 0)
    assert objective_order(a, 0) != objective_order(a, 1)
    assert objective_order(a, 0) != objective_order(b, 0)
    assert sorted(objective_order(a, 0)) == list(range(30))
    assert [fidelity_count(30, f) for f in (0.01, 0.1, 0.3, 1.0)] == [1, 3, 9, 30]


def test_continuous_scores_and_choices_at_full_fidelity_match_a_fresh_evaluation(tmp_path):
    tokenizer = make_char_tokenizer()
    model = make_tiny_llama(len(tokenizer)).eval()
    answers = write_jsonl(tmp_path / "a.jsonl", copy_examples(24, seed=4))
    rows = []
    for i, row in enumerate(copy_examples(16, seed=6)):
        choices = [row["answer"], row["answer"][::-1] + "a", "cab"][: 2 + i % 2]
        rows.append({"prompt": row["prompt"], "choices": choices, "gold": i % len(choices)})
    choices = write_jsonl(tmp_path / "c.jsonl", rows)
    loglik = AnswerLogLik("loglik", answers, tokenizer, batch_size=5)
    choice = ChoiceAccuracy("choice", choices, tokenizer, batch_size=7)
    distance = DeltaNorm("l2", {name: p.detach().clone() for name, p in model.named_parameters()})
    objectives = [loglik, choice, distance]
    low, cost = evaluate_at_fidelity(objectives, model, tokenizer, 0.3, seed=2)
    assert cost == 8 + 5  # ceil(0.3 * 24) + ceil(0.3 * 16); the distance has no examples
    assert low["l2"].scores is None and low["l2"].ok
    prior = {name: m.scores for name, m in low.items() if m.scores is not None}
    full, cost = evaluate_at_fidelity(objectives, model, tokenizer, 1.0, prior=prior, seed=2)
    assert cost == 16 + 11
    assert full["choice"].value == choice.evaluate(model).value
    assert 0 < full["choice"].value < 1
    assert full["loglik"].value == pytest.approx(loglik.evaluate(model).value, rel=1e-6)


def test_an_objective_that_raises_is_a_failed_measurement(expert):
    model, tokenizer, data = expert
    objective = ExactMatch("task", data, tokenizer, limit=10)

    def boom(model, rows):
        raise RuntimeError("no")

    objective.example_scores = boom
    measurements, _ = evaluate_at_fidelity([objective], model, tokenizer, 0.5)
    assert not measurements["task"].ok and "RuntimeError: no" in measurements["task"].error
