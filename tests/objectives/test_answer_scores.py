from __future__ import annotations

import pytest
import torch

from mmmo.objectives.answer_scores import AnswerLogLik, TokenAccuracy


def reference_scores(model, tokenizer, examples):
    """Per example, unpadded: (token accuracy, mean log-prob) of answer + EOS."""
    accuracies, logliks = [], []
    for prompt, answer in examples:
        context = tokenizer(prompt).input_ids
        target = tokenizer(answer, add_special_tokens=False).input_ids + [tokenizer.eos_token_id]
        ids = torch.tensor([context + target])
        with torch.no_grad():
            log_probs = torch.log_softmax(model(input_ids=ids).logits[0].double(), dim=-1)
        # Position t predicts token t + 1.
        predictions = log_probs[len(context) - 1 : -1]
        target = torch.tensor(target)
        accuracies.append((predictions.argmax(-1) == target).double().mean().item())
        logliks.append(predictions.gather(-1, target[:, None]).mean().item())
    return torch.tensor(accuracies), torch.tensor(logliks)


@pytest.mark.parametrize("batch_size", [3, 64])
def test_teacher_forced_scores_match_unpadded_reference(answers_file, tiny_llama, char_tokenizer, batch_size):
    accuracy = TokenAccuracy("acc", answers_file, char_tokenizer, batch_size=batch_size)
    loglik = AnswerLogLik("ll", answers_file, char_tokenizer, batch_size=batch_size)
    ref_acc, ref_ll = reference_scores(tiny_llama, char_tokenizer, accuracy.examples)

    measured = accuracy.evaluate(tiny_llama, char_tokenizer)
    assert measured.ok and measured.n == len(ref_acc) == 40
    assert measured.value == pytest.approx(ref_acc.mean().item(), abs=1e-6)
    assert measured.stderr == pytest.approx(ref_acc.std().item() / 40**0.5, abs=1e-6)
    assert 0.0 < measured.value < 1.0

    measured = loglik.evaluate(tiny_llama, char_tokenizer)
    assert measured.ok and measured.n == 40
    assert measured.value == pytest.approx(ref_ll.mean().item(), abs=1e-5)
    assert measured.stderr == pytest.approx(ref_ll.std().item() / 40**0.5, abs=1e-5)
    assert measured.value < 0.0


def test_scores_follow_the_live_weights(answers_file, char_tokenizer, tiny_llama):
    """Data is tokenized once; each call scores the model's weights as they are now."""
    import copy

    model = copy.deepcopy(tiny_llama)
    loglik = AnswerLogLik("ll", answers_file, char_tokenizer)
    before = loglik.evaluate(model).value
    with torch.no_grad():
        model.lm_head.weight.mul_(0.5)
    after = loglik.evaluate(model).value
    with torch.no_grad():
        model.lm_head.weight.mul_(2.0)
    assert after != pytest.approx(before)
    assert loglik.evaluate(model).value == pytest.approx(before, abs=1e-6)


def test_limit_takes_the_same_examples_for_the_same_seed(answers_file, char_tokenizer):
    first = TokenAccuracy("acc", answers_file, char_tokenizer, limit=10, seed=3)
    again = TokenAccuracy("acc", answers_file, char_tokenizer, limit=10, seed=3)
    other = TokenAccuracy("acc", answers_file, char_tokenizer, limit=10, seed=4)
    assert len(first) == 10
    assert first.examples == again.examples
    assert first.examples != other.examples
    everything = TokenAccuracy("acc", answers_file, char_tokenizer)
    assert set(first.examples) <= set(everything.examples)
