from __future__ import annotations

import pytest
import torch

from mmmo.objectives.exact_match import ExactMatch
from tests.objectives.conftest import copy_examples, write_jsonl

MAX_NEW = 9


def reference_outputs(model, tokenizer, prompts, max_new_tokens, lengths=None):
    """One prompt at a time through ``model.generate``: no padding, no shared cache.

    ``lengths``, when a list, receives each output's token count before EOS.
    """
    outputs = []
    for prompt in prompts:
        ids = tokenizer(prompt, return_tensors="pt")
        out = model.generate(
            **ids,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )[0, ids.input_ids.shape[1] :].tolist()
        if tokenizer.eos_token_id in out:
            out = out[: out.index(tokenizer.eos_token_id)]
        if lengths is not None:
            lengths.append(len(out))
        outputs.append(tokenizer.decode(out, skip_special_tokens=True))
    return outputs


@pytest.fixture(scope="module")
def graded_file(tmp_path_factory, tiny_llama, char_tokenizer):
    """Gold answers that are the reference output on even rows and wrong on odd rows."""
    rows = copy_examples(30, seed=3)
    outputs = reference_outputs(tiny_llama, char_tokenizer, [r["prompt"] for r in rows], MAX_NEW)
    for i, (row, out) in enumerate(zip(rows, outputs, strict=True)):
        row["answer"] = out if i % 2 == 0 else out + "a"
    return write_jsonl(tmp_path_factory.mktemp("em") / "graded.jsonl", rows), outputs


def test_batched_decoding_matches_one_prompt_at_a_time(graded_file, tiny_llama, char_tokenizer):
    path, outputs = graded_file
    objective = ExactMatch("em", path, char_tokenizer, batch_size=7, max_new_tokens=MAX_NEW)
    assert objective.predict(tiny_llama) == outputs
    # The fixture must exercise rows that stop early and rows that hit the cap.
    lengths = {len(o) for o in outputs}
    assert len(lengths) > 2


def test_score_is_fraction_of_exact_answers(graded_file, tiny_llama, char_tokenizer):
    path, _ = graded_file
    measurement = ExactMatch("em", path, char_tokenizer, max_new_tokens=MAX_NEW).evaluate(
        tiny_llama, char_tokenizer
    )
    assert measurement.ok
    assert measurement.n == 30
    assert measurement.value == pytest.approx(15 / 30)
    # Bernoulli scores: sample std of fifteen 1s and fifteen 0s over sqrt(n).
    expected = torch.tensor([1.0, 0.0] * 15).std().item() / 30**0.5
    assert measurement.stderr == pytest.approx(expected)
    assert measurement.seconds > 0


def test_same_score_for_any_batch_size(graded_file, tiny_llama, char_tokenizer):
    path, _ = graded_file
    values = {
        ExactMatch("em", path, char_tokenizer, batch_size=b, max_new_tokens=MAX_NEW)
        .evaluate(tiny_llama)
        .value
        for b in (3, 4, 64)
    }
    assert len(values) == 1


def test_normalize_is_applied_to_both_sides(tmp_path, tiny_llama, char_tokenizer):
    rows = copy_examples(6, seed=4)
    outputs = reference_outputs(tiny_llama, char_tokenizer, [r["prompt"] for r in rows], MAX_NEW)
    for row, out in zip(rows, outputs, strict=True):
        row["answer"] = f"  {out.upper()} "
    path = write_jsonl(tmp_path / "upper.jsonl", rows)
    plain = ExactMatch("em", path, char_tokenizer, max_new_tokens=MAX_NEW)
    folded = ExactMatch(
        "em", path, char_tokenizer, max_new_tokens=MAX_NEW, normalize=lambda s: s.strip().lower()
    )
    assert plain.evaluate(tiny_llama).value < 1.0
    assert folded.evaluate(tiny_llama).value == 1.0


class CountingModel(torch.nn.Module):
    """Forwards to a model and counts forward calls."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.config = model.config
        self.calls = 0

    def forward(self, **kwargs):
        self.calls += 1
        return self.model(**kwargs)


def test_batch_stops_when_every_row_is_done(tmp_path, tiny_llama, char_tokenizer):
    rows = copy_examples(14, seed=5)
    lengths = []
    outputs = reference_outputs(tiny_llama, char_tokenizer, [r["prompt"] for r in rows], 8, lengths)
    stopped = [(row, out, n) for row, out, n in zip(rows, outputs, lengths, strict=True) if n < 8]
    assert len(stopped) >= 3
    for row, out, _ in stopped:
        row["answer"] = out
    path = write_jsonl(tmp_path / "stopping.jsonl", [row for row, _, _ in stopped])
    objective = ExactMatch("em", path, char_tokenizer, batch_size=len(stopped), max_new_tokens=40, certify=False)
    counting = CountingModel(tiny_llama)
    assert objective.evaluate(counting).value == 1.0
    # Per batch: one prefill (and one for the prefix its rows share), then one call
    # per generated token after the first, up to the batch's longest answer's EOS;
    # far fewer than the cap of 40.
    lengths = [n for _, _, n in stopped]
    expected = sum(
        bool(len(batch.shared)) + max(lengths[row] for row in batch.rows.tolist()) + 1
        for batch in objective.batches(torch.device("cpu"))
    )
    assert counting.calls == expected < 40


def test_default_cap_is_longest_answer_plus_eos(answers_file, char_tokenizer):
    objective = ExactMatch("em", answers_file, char_tokenizer)
    longest = max(len(answer) for _, answer in objective.examples)
    assert objective.max_new_tokens == longest + 1


def test_eager_attention_decodes_the_same(graded_file, char_tokenizer):
    """The cache loop hands SDPA a ready boolean mask; other attention
    implementations get the plain padding mask and must agree."""
    from tests.objectives.conftest import make_tiny_llama

    path, outputs = graded_file
    model = make_tiny_llama(len(char_tokenizer))
    model.set_attn_implementation("eager")
    objective = ExactMatch("em", path, char_tokenizer, batch_size=7, max_new_tokens=MAX_NEW)
    assert objective.predict(model) == outputs


def test_certified_rows_skip_decoding_and_keep_the_score(graded_file, tiny_llama, char_tokenizer):
    path, _ = graded_file
    fast = ExactMatch("em", path, char_tokenizer, max_new_tokens=MAX_NEW)
    full = ExactMatch("em", path, char_tokenizer, max_new_tokens=MAX_NEW, certify=False)
    certified = fast.certified_rows(tiny_llama)
    # Only right rows (the even ones) may be certified, and most of them are.
    assert not certified[1::2].any()
    assert 8 <= int(certified.sum()) <= 15
    assert not full.certified_rows(tiny_llama).any()
    a, b = fast.evaluate(tiny_llama), full.evaluate(tiny_llama)
    assert (a.value, a.stderr) == (b.value, b.stderr)


def test_near_ties_are_decoded_not_certified(graded_file, tiny_llama, char_tokenizer, monkeypatch):
    import mmmo.objectives.certification as certification

    path, _ = graded_file
    monkeypatch.setitem(certification.TIE_MARGIN, torch.float32, float("inf"))
    objective = ExactMatch("em", path, char_tokenizer, max_new_tokens=MAX_NEW)
    assert not objective.certified_rows(tiny_llama).any()
    assert objective.evaluate(tiny_llama).value == pytest.approx(0.5)
