from __future__ import annotations

import math

import torch

from mmmo.objectives.answer_scores import AnswerLogLik, TokenAccuracy
from mmmo.objectives.base import Measurement
from mmmo.objectives.exact_match import ExactMatch
from mmmo.objectives.guard import evaluate_objectives, safe_evaluate


class RaisingModel(torch.nn.Module):
    """Has the model's parameters and config; its forward raises ``error``."""

    def __init__(self, model, error):
        super().__init__()
        self.inner = model
        self.config = model.config
        self.error = error

    def forward(self, **kwargs):
        raise self.error


class Raises:
    name, direction = "raises", "maximize"

    def evaluate(self, model, tokenizer):
        raise KeyError("boom")


class ReturnsNaN:
    name, direction = "nan", "maximize"

    def evaluate(self, model, tokenizer):
        return Measurement(math.nan, n=3)


class ReturnsNothing:
    name, direction = "nothing", "maximize"

    def evaluate(self, model, tokenizer):
        return 0.5


def test_out_of_memory_is_a_failed_measurement_and_the_rest_runs(answers_file, tiny_llama, char_tokenizer):
    oom = RaisingModel(tiny_llama, torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    objectives = [
        ExactMatch("em", answers_file, char_tokenizer),
        TokenAccuracy("acc", answers_file, char_tokenizer),
    ]
    results = evaluate_objectives(objectives, oom, char_tokenizer)
    assert set(results) == {"em", "acc"}
    for measured in results.values():
        assert not measured.ok and measured.value is None
        assert measured.error.startswith("out of memory: CUDA out of memory")


def test_exceptions_and_nan_from_built_in_objectives(answers_file, tiny_llama, char_tokenizer):
    broken = RaisingModel(tiny_llama, RuntimeError("shape mismatch in layer 3"))
    measured = ExactMatch("em", answers_file, char_tokenizer).evaluate(broken, char_tokenizer)
    assert measured.error == "RuntimeError: shape mismatch in layer 3"

    import copy

    nan_model = copy.deepcopy(tiny_llama)
    with torch.no_grad():
        nan_model.lm_head.weight.fill_(math.nan)
    measured = AnswerLogLik("ll", answers_file, char_tokenizer).evaluate(nan_model, char_tokenizer)
    assert measured.error == "NaN" and measured.value is None


def test_evaluate_objectives_never_raises(answers_file, tiny_llama, char_tokenizer):
    objectives = [
        Raises(),
        ReturnsNaN(),
        ReturnsNothing(),
        TokenAccuracy("acc", answers_file, char_tokenizer),
    ]
    tiny_llama.train()
    results = evaluate_objectives(objectives, tiny_llama, char_tokenizer)
    assert not tiny_llama.training  # scored in eval mode
    assert results["raises"].error == "KeyError: 'boom'"
    assert results["nan"].error == "NaN"
    assert results["nothing"].error == "objective returned float, not a Measurement"
    assert results["acc"].ok
    assert safe_evaluate(Raises(), None, None).seconds >= 0
