from __future__ import annotations

import json

import pytest
import torch

from mmmo.errors import ZooError
from mmmo.realzoo.score import FirstLineExactMatch, first_line


class _Tokenizer:
    """Characters as token ids; id 0 is EOS and padding."""

    eos_token_id = pad_token_id = 0
    padding_side = "right"

    def __call__(self, texts, add_special_tokens=True, return_tensors=None, padding=False):
        if isinstance(texts, str):
            return type("Encoded", (), {"input_ids": [ord(c) for c in texts]})()
        width = max(len(t) for t in texts)
        assert self.padding_side == "left"  # decoder-only generation pads on the left
        ids = torch.tensor([[0] * (width - len(t)) + [ord(c) for c in t] for t in texts])
        return {"input_ids": ids, "attention_mask": (ids != 0).long()}

    def batch_decode(self, rows, skip_special_tokens=True):
        return ["".join(chr(i) for i in row.tolist() if i != 0) for row in rows]


class _Model:
    """Writes a fixed continuation per prompt (looked up by the prompt's text)."""

    def __init__(self, outputs):
        self.outputs = outputs

    def generate(self, input_ids, attention_mask, max_new_tokens, **kwargs):
        rows = []
        for ids in input_ids:
            prompt = "".join(chr(i) for i in ids.tolist() if i != 0)
            new = [ord(c) for c in self.outputs[prompt]][:max_new_tokens]
            rows.append(ids.tolist() + new + [0] * (max_new_tokens - len(new)))
        return torch.tensor(rows)


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "test.jsonl"
    rows = [{"prompt": "Q: 1+1\nA:", "answer": " 2"}, {"prompt": "Q: 20+3\nA:", "answer": " 23"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_first_line_cuts_at_the_newline():
    assert first_line(" 23\nQ: next") == "23"
    assert first_line("") == ""


def test_only_the_first_line_is_compared(data):
    scorer = FirstLineExactMatch(data, _Tokenizer(), batch_size=1)
    # The first row's answer is followed by the next question, as a base model writes it.
    assert scorer(_Model({"Q: 1+1\nA:": " 2\nQ", "Q: 20+3\nA:": " 23"})).exact_match == 1.0
    assert scorer(_Model({"Q: 1+1\nA:": " 2 ", "Q: 20+3\nA:": " 2\n3"})).exact_match == 0.5
    assert scorer(_Model({"Q: 1+1\nA:": " 22", "Q: 20+3\nA:": "23 4"})).exact_match == 0.0


def test_padding_side_is_restored(data):
    tokenizer = _Tokenizer()
    FirstLineExactMatch(data, tokenizer).predictions(_Model({"Q: 1+1\nA:": " 2", "Q: 20+3\nA:": " 23"}))
    assert tokenizer.padding_side == "right"


def test_empty_data_is_an_error(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(ZooError, match="empty.jsonl"):
        FirstLineExactMatch(tmp_path / "empty.jsonl", _Tokenizer())
