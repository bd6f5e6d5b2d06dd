"""The evaluator on the tiny zoo: reference plans are the checkpoints themselves."""

import pytest
import torch
from transformers import AutoModelForCausalLM

from mmmo.config import parse_config
from mmmo.evaluation import TrialEvaluator, TrialRequest
from mmmo.objectives import build_objectives, evaluate_objectives
from mmmo.references import reference_trials
from mmmo.sources.checkpoint import load_state

from .conftest import zoo_config


@pytest.fixture(scope="module")
def evaluator(tiny_zoo):
    config = parse_config(zoo_config(tiny_zoo, objectives=[
        {"kind": "exact_match", "data": str(tiny_zoo.tasks[t].test), "name": t, "limit": 16}
        for t in tiny_zoo.expert_tasks[:2]
    ]))
    return TrialEvaluator(config, worker="test")


def test_reference_plans_reproduce_the_checkpoints_and_their_scores(evaluator, tiny_zoo):
    names = evaluator.config.model_names
    references = {r.label: r for r in reference_trials(names, recipes=False)}
    base_state = load_state(tiny_zoo.base, "base", torch.float32)
    paths = {"base": tiny_zoo.base, **{n: tiny_zoo.experts[n] for n in names}}
    for label, reference in references.items():
        plan = reference.plan
        assert plan.method == "task_arithmetic"
        assert all(p.density == 1.0 for p in plan.params["all"])
        outcome = evaluator.evaluate(TrialRequest(trial_id=1, plan=plan.to_dict()))
        assert outcome.status == "complete" and outcome.worker == "test"
        live = dict(evaluator.merger.model.named_parameters())
        checkpoint = load_state(paths[label], label, torch.float32)
        for name, weight in checkpoint.items():
            if name not in live:
                continue
            if label == "base":
                assert torch.equal(live[name].detach(), weight), name  # base + 0 is the base, bit for bit
            else:
                # base + delta rounds once: within an ulp or so of the checkpoint.
                expected = base_state[name] + (weight - base_state[name])
                assert torch.equal(live[name].detach(), expected), name
                assert torch.allclose(live[name].detach(), weight, rtol=0, atol=1e-6), name
        # Scored like the checkpoint loaded directly.
        model = AutoModelForCausalLM.from_pretrained(paths[label]).eval()
        objectives = build_objectives(evaluator.config.objectives, evaluator.merger.tokenizer,
                                      evaluator.merger.pool.base_state)
        direct = evaluate_objectives(objectives, model, evaluator.merger.tokenizer)
        scored = outcome.measurement_objects()
        assert {k: m.value for k, m in scored.items()} == {k: m.value for k, m in direct.items()}, label


def test_a_plan_that_cannot_merge_is_a_failed_outcome(evaluator):
    plan = reference_trials(("nobody", "else"), recipes=False)[0].plan.to_dict()
    outcome = evaluator.evaluate(TrialRequest(trial_id=4, plan=plan))
    assert outcome.status == "failed" and outcome.trial_id == 4
    assert outcome.error.startswith("merge: MergeError") and "nobody" in outcome.error
    assert not outcome.out_of_memory and outcome.measurements == {}


def test_out_of_memory_in_an_objective_is_flagged(evaluator, monkeypatch):
    def exhausted(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    objective = evaluator.objectives[0]
    monkeypatch.setattr(objective, "evaluate", exhausted)
    plan = reference_trials(evaluator.config.model_names, recipes=False)[0].plan.to_dict()
    outcome = evaluator.evaluate(TrialRequest(trial_id=5, plan=plan))
    assert outcome.status == "failed" and outcome.out_of_memory
    assert f"{objective.name}: out of memory: CUDA out of memory" in outcome.error
