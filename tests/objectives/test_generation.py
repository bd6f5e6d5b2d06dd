from __future__ import annotations

import torch

import mmmo.objectives.exact_match as exact_match
from mmmo.objectives.batches import PackedBatches
from mmmo.objectives.exact_match import ExactMatch
from mmmo.objectives.generation import decode_batch
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


def test_rows_stop_at_their_stop_string_and_leave_the_batch():
    tokenizer = make_bpe_tokenizer()
    model = make_newline_llama(tokenizer)
    prompts = [row["prompt"] for row in copy_examples(16, seed=11)]
    reference = reference_generate(model, tokenizer, prompts, 8, ["\n"])
    # Tokens each row decodes before it ends (a stop string or EOS, kept), capped at 8.
    steps = [len(out) for out in reference]
    assert len(set(steps)) > 2, "the rows must end at different steps"
    batch = PackedBatches([tokenizer(p).input_ids for p in prompts], tokenizer.pad_token_id, 16).on(
        torch.device("cpu")
    )[0]

    def stopped(generated):
        return ["\n" in text for text in tokenizer.batch_decode(generated, skip_special_tokens=True)]

    recording = RecordingModel(model)
    output = decode_batch(recording, batch, 8, tokenizer.eos_token_id, tokenizer.pad_token_id, stopped)
    for row, generated in zip(batch.rows.tolist(), output.generated.tolist(), strict=True):
        assert generated[: steps[row]] == reference[row]
        assert set(generated[steps[row] :]) <= {tokenizer.pad_token_id}
    prefill, *decode_steps = recording.shapes
    assert prefill[0] == len(prompts)
    # Step s feeds exactly the rows that have not ended after s tokens.
    expected = [sum(n > s for n in steps) for s in range(1, max(steps))]
    assert [rows for rows, _ in decode_steps] == expected


def test_certification_reuses_the_prompt_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(exact_match, "BATCH_STEP_TOKENS", 10**6)  # one batch
    rows = copy_examples(16, seed=12)
    tokenizer = make_bpe_tokenizer()
    model = make_newline_llama(tokenizer)
    plain = ExactMatch("em", write_jsonl(tmp_path / "a.jsonl", rows), tokenizer, max_new_tokens=8, certify=False)
    for row, text in zip(rows, plain.predict(model), strict=True):
        row["answer"] = text.split("\n")[0]
    rows[0]["answer"] += "a"  # one wrong row, decoded after certification
    path = write_jsonl(tmp_path / "b.jsonl", rows)
    objective = ExactMatch("em", path, tokenizer, max_new_tokens=8, batch_size=16)
    (batch,) = objective.batches(torch.device("cpu"))
    recording = RecordingModel(model)
    certified = objective.certified_rows(model)
    assert 0 < int(certified.sum()) < 16
    assert objective.evaluate(recording).value == objective.evaluate(model).value == 15 / 16
    shared, prefill, certify, *decode_steps = recording.shapes
    # The prompts go through the model once, their shared prefix (BOS) once in all;
    # certification feeds only answer tokens on top of their cache, and decoding
    # continues from the same cache, one token per row and step.
    assert shared == (1, len(batch.shared)) and len(batch.shared) >= 1
    assert prefill == tuple(batch.input_ids.shape)
    # Fed: the rows whose first token the prompt pass confirmed, at least every certified one.
    assert int(certified.sum()) <= certify[0] <= 16
    assert certify[1] <= max(len(tokenizer(r["answer"], add_special_tokens=False).input_ids) for r in rows)
    assert all(width == 1 for _, width in decode_steps)
    assert decode_steps[0][0] == 16 - int(certified.sum())


def test_certification_feeds_nothing_when_no_first_token_is_right(tmp_path):
    rows = copy_examples(16, seed=13)
    tokenizer = make_bpe_tokenizer()
    model = make_newline_llama(tokenizer)
    plain = ExactMatch("em", write_jsonl(tmp_path / "a.jsonl", rows), tokenizer, max_new_tokens=8, certify=False)
    for row, text in zip(rows, plain.predict(model), strict=True):
        # A first letter the model never writes first: no certificate can start.
        first = text[:1]
        row["answer"] = next(c for c in "abcdefgh" if c != first) + text.split("\n")[0]
    objective = ExactMatch("em", write_jsonl(tmp_path / "b.jsonl", rows), tokenizer, max_new_tokens=8)
    with_proofs, without = RecordingModel(model), RecordingModel(model)
    assert objective.evaluate(with_proofs).value == 0.0
    objective_off = ExactMatch("em", write_jsonl(tmp_path / "c.jsonl", rows), tokenizer, max_new_tokens=8, certify=False)
    assert objective_off.evaluate(without).value == 0.0
    # The same calls with certification on as off: the teacher-forced pass was never run.
    assert with_proofs.shapes == without.shapes
