from __future__ import annotations

import pytest
import torch

from mmmo.objectives.choice_accuracy import ChoiceAccuracy
from tests.objectives.conftest import copy_examples, write_jsonl


def continuation_logprob(model, tokenizer, prompt, continuation):
    context = tokenizer(prompt).input_ids
    target = tokenizer(continuation, add_special_tokens=False).input_ids + [tokenizer.eos_token_id]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([context + target])).logits[0].double()
    log_probs = torch.log_softmax(logits, dim=-1)[len(context) - 1 : -1]
    return log_probs.gather(-1, torch.tensor(target)[:, None]).sum().item(), len(target)


@pytest.fixture(scope="module")
def choice_rows():
    rows = []
    for i, row in enumerate(copy_examples(12, seed=6)):
        word = row["answer"]
        choices = [word, word[::-1] + "a", "cab", "h" * (1 + i % 4)][: 2 + i % 3]
        rows.append({"prompt": row["prompt"], "choices": choices, "gold": i % len(choices)})
    return rows


@pytest.mark.parametrize("length_normalize", [False, True])
def test_accuracy_matches_per_choice_reference(
    tmp_path, tiny_llama, char_tokenizer, choice_rows, length_normalize
):
    path = write_jsonl(tmp_path / "choices.jsonl", choice_rows)
    expected = []
    for row in choice_rows:
        scores = []
        for choice in row["choices"]:
            total, count = continuation_logprob(tiny_llama, char_tokenizer, row["prompt"], choice)
            scores.append(total / count if length_normalize else total)
        expected.append(float(max(range(len(scores)), key=scores.__getitem__) == row["gold"]))
    assert 0 < sum(expected) < len(expected)  # the fixture has right and wrong examples
    objective = ChoiceAccuracy("mc", path, char_tokenizer, batch_size=5, length_normalize=length_normalize)
    assert objective.correct(tiny_llama).tolist() == [bool(e) for e in expected]
    measured = objective.evaluate(tiny_llama, char_tokenizer)
    assert measured.ok and measured.n == 12
    assert measured.value == pytest.approx(sum(expected) / 12)
