import json

import pytest
import torch

from mmmo.errors import ConfigError
from mmmo.pareto_merging.data import collate, read_prompts


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_read_prompts_subsamples_deterministically(tmp_path):
    path = _jsonl(tmp_path / "t.jsonl", [{"prompt": f"p{i}", "answer": f"a{i}"} for i in range(50)])
    rows = read_prompts(path, "lm", limit=10, seed=3)
    assert len(rows) == 10 and rows == read_prompts(path, "lm", limit=10, seed=3)
    assert rows != read_prompts(path, "lm", limit=10, seed=4)
    assert all(a == "a" + p[1:] for p, a in rows)
    assert len(read_prompts(path, "entropy")) == 50


def test_read_prompts_names_file_and_line_of_a_bad_row(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"prompt": "x", "answer": "y"}\nnot json\n')
    with pytest.raises(ConfigError, match=r"t\.jsonl:2: not valid JSON"):
        read_prompts(path, "entropy")
    _jsonl(path, [{"prompt": "x", "answer": "y"}, {"prompt": "z"}])
    assert len(read_prompts(path, "entropy")) == 2  # unlabelled rows need no answer
    with pytest.raises(ConfigError, match=r"t\.jsonl:2: loss 'lm' needs a string 'answer'"):
        read_prompts(path, "lm")
    _jsonl(path, [{"text": "x"}])
    with pytest.raises(ConfigError, match=r"t\.jsonl:1: a row needs a string 'prompt'"):
        read_prompts(path, "entropy")
    with pytest.raises(ConfigError, match="task data not found"):
        read_prompts(tmp_path / "missing.jsonl", "lm")


def test_collate_right_pads_and_marks_targets():
    batch = collate([((1, 5, 6, 7), 2), ((1, 8), 1)], pad_id=0)
    assert torch.equal(batch.input_ids, torch.tensor([[1, 5, 6, 7], [1, 8, 0, 0]]))
    assert torch.equal(batch.attention_mask, torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]]))
    assert torch.equal(batch.target_mask, torch.tensor([[0, 0, 1, 1], [0, 1, 0, 0]]))


def test_labelled_examples_follow_the_tokenization_convention(tiny_zoo):
    from transformers import AutoTokenizer

    from mmmo.pareto_merging.data import labelled_examples

    tokenizer = AutoTokenizer.from_pretrained(tiny_zoo.base)
    rows = read_prompts(tiny_zoo.tasks[tiny_zoo.expert_tasks[0]].train, "lm", limit=4)
    examples = labelled_examples("t", rows, tokenizer)
    for (prompt, answer), seq, length in zip(rows, examples.sequences, examples.prompt_lengths):
        prompt_ids = tokenizer(prompt).input_ids
        assert prompt_ids[0] == tokenizer.bos_token_id
        assert list(seq[:length]) == prompt_ids
        assert list(seq[length:]) == tokenizer(answer, add_special_tokens=False).input_ids + [
            tokenizer.eos_token_id
        ]


def test_unlabelled_examples_target_the_models_own_greedy_continuation(tiny_zoo):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mmmo.pareto_merging.data import unlabelled_examples

    task = tiny_zoo.expert_tasks[0]
    tokenizer = AutoTokenizer.from_pretrained(tiny_zoo.base)
    expert = AutoModelForCausalLM.from_pretrained(tiny_zoo.experts[task]).eval()
    rows = read_prompts(tiny_zoo.tasks[task].train, "lm", limit=8)
    examples = unlabelled_examples(task, rows, tokenizer, expert, max_new_tokens=24, batch_size=3)
    assert examples.loss == "entropy" and len(examples) == 8
    matches = 0
    for (prompt, answer), seq, length in zip(rows, examples.sequences, examples.prompt_lengths):
        assert list(seq[:length]) == tokenizer(prompt).input_ids
        continuation = list(seq[length:])
        assert 1 <= len(continuation) <= 24
        assert tokenizer.eos_token_id not in continuation[:-1]  # cut after the first EOS
        # The answer is never read, but an expert's continuation is mostly its answer.
        matches += tokenizer.decode(continuation, skip_special_tokens=True) == answer
    assert matches >= 4
