from __future__ import annotations

import torch

from mmmo.objectives.exact_match import ExactMatch
from tests.objectives.conftest import (
    copy_examples,
    make_bpe_tokenizer,
    make_newline_llama,
    reference_generate,
    write_jsonl,
)


class RecordingModel(torch.nn.Module):
    """Forwards to a model and records each call's input shape."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.config = model.config
        self.shapes: list[tuple[int, int]] = []

    def forward(self, **kwargs):
        self.shapes.append(tuple(kwargs["input_ids"].shape))
        return self.model(**kwargs)


def newline_objective(tmp_path, rows, **options):
    tokenizer = make_bpe_tokenizer()
    model = make_newline_llama(tokenizer)
    path = write_jsonl(tmp_path / "rows.jsonl", rows)
    return ExactMatch("em", path, tokenizer, max_new_tokens=8, batch_size=len(rows), **options), model, tokenizer


def test_finished_rows_leave_the_batch(tmp_path):
    rows = copy_examples(16, seed=11)
    objective, model, tokenizer = newline_objective(tmp_path, rows, certify=False)
    # Tokens each row decodes before it ends (a stop string or EOS, kept), capped at 8.
    steps = [len(out) for out in reference_generate(model, tokenizer, [r["prompt"] for r in rows], 8, ["\n"])]
    assert len(set(steps)) > 2, "the rows must end at different steps"
    recording = RecordingModel(model)
    objective.predict(recording)
    prefill, *decode_steps = recording.shapes
    assert prefill[0] == len(rows)
    # Step s feeds exactly the rows that have not ended after s tokens.
    expected = [sum(n > s for n in steps) for s in range(1, max(steps))]
    assert [batch for batch, _ in decode_steps] == expected


def test_certification_reuses_the_prompt_cache(tmp_path):
    rows = copy_examples(16, seed=12)
    tokenizer = make_bpe_tokenizer()
    model = make_newline_llama(tokenizer)
    plain = ExactMatch("em", write_jsonl(tmp_path / "a.jsonl", rows), tokenizer, max_new_tokens=8, certify=False)
    for row, text in zip(rows, plain.predict(model), strict=True):
        row["answer"] = text.split("\n")[0]
    rows[0]["answer"] += "a"  # one wrong row, decoded after certification
    path = write_jsonl(tmp_path / "b.jsonl", rows)
    objective = ExactMatch("em", path, tokenizer, max_new_tokens=8, batch_size=16)
    recording = RecordingModel(model)
    certified = objective.certified_rows(model)
    assert 0 < int(certified.sum()) < 16
    assert objective.evaluate(recording).value == objective.evaluate(model).value == 15 / 16
    prompt_length = max(len(tokenizer(r["prompt"]).input_ids) for r in rows)
    # The prompts go through the model once; certification feeds only answer tokens on
    # top of their cache, and decoding continues from the same cache.
    assert [shape[1] for shape in recording.shapes].count(prompt_length) == 1
    prefill, certify, *decode_steps = recording.shapes
    assert certify[1] < prompt_length
    assert all(shape[1] == 1 for shape in decode_steps)
    assert decode_steps[0][0] == 16 - int(certified.sum())
