from __future__ import annotations

import json
import math

import pytest
import torch

from mmmo.objectives.perplexity import Perplexity

TEXTS = ["abc abc abc", "hgfedcba", "a", "cab: bad face"]


def reference_nll(model, tokenizer, texts):
    total, count = 0.0, 0
    for text in texts:
        ids = tokenizer(text).input_ids + [tokenizer.eos_token_id]
        with torch.no_grad():
            log_probs = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].double(), dim=-1)
        total -= log_probs[:-1].gather(-1, torch.tensor(ids[1:])[:, None]).sum().item()
        count += len(ids) - 1
    return total / count


def test_perplexity_of_jsonl_matches_reference(tmp_path, tiny_llama, char_tokenizer):
    path = tmp_path / "texts.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    nll = reference_nll(tiny_llama, char_tokenizer, TEXTS)
    measured = Perplexity("ppl", path, char_tokenizer, batch_size=3).evaluate(tiny_llama)
    assert measured.ok and measured.n == 4
    assert measured.value == pytest.approx(math.exp(nll), rel=1e-5)
    as_nll = Perplexity("nll", path, char_tokenizer, report="nll").evaluate(tiny_llama)
    assert as_nll.value == pytest.approx(nll, rel=1e-5)
    assert Perplexity("ppl", path, char_tokenizer).direction == "minimize"


def test_long_document_is_scored_in_windows_without_gaps(tmp_path, tiny_llama, char_tokenizer):
    text = "abcdefgh " * 5  # 45 characters: 47 tokens with BOS and EOS
    path = tmp_path / "doc.txt"
    path.write_text(text)
    windowed = Perplexity("ppl", path, char_tokenizer, max_length=16)
    whole = Perplexity("ppl", path, char_tokenizer, max_length=64)
    assert windowed.num_tokens == whole.num_tokens == len(text) + 1
    assert windowed._batches.max_length == 16
    # Windows restart the context, so the score differs from one long pass.
    assert windowed.evaluate(tiny_llama).value != pytest.approx(whole.evaluate(tiny_llama).value)
    assert whole.evaluate(tiny_llama).value == pytest.approx(
        math.exp(reference_nll(tiny_llama, char_tokenizer, [text])), rel=1e-5
    )
