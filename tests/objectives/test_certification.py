from __future__ import annotations

import pytest
import torch

from mmmo.objectives.certification import (
    Certificate,
    CertificateBatch,
    CertificationPolicy,
    certificates,
    certificates_hold,
    ending_pool,
    first_step_holds,
)
from mmmo.objectives.exact_match import ExactMatch
from tests.objectives.conftest import (
    copy_examples,
    make_bpe_tokenizer,
    make_newline_llama,
    reference_generate,
    write_jsonl,
)


@pytest.fixture(scope="module")
def bpe_tokenizer():
    return make_bpe_tokenizer()


def ids(tokenizer, *tokens):
    vocab = tokenizer.get_vocab()
    return tuple(vocab[t] for t in tokens)


def test_pool_holds_every_token_with_a_stop(bpe_tokenizer):
    assert set(ending_pool(bpe_tokenizer, ["\n"])) == set(ids(bpe_tokenizer, "\n", "\n\n", "c\n", "d\n"))
    assert ending_pool(bpe_tokenizer, []) == []


def test_stop_merged_with_the_answer_gives_a_second_certificate(bpe_tokenizer):
    pool = ending_pool(bpe_tokenizer, ["\n"])
    found = certificates(
        "abc", bpe_tokenizer, ["\n"], bpe_tokenizer.eos_token_id, pool, lambda t: t.strip() == "abc", 9
    )
    by_prefix = {c.prefix: set(c.endings) for c in found}
    # The answer's own tokens, ended by EOS or a newline token ...
    assert by_prefix[ids(bpe_tokenizer, "a", "b", "c")] == {
        bpe_tokenizer.eos_token_id,
        *ids(bpe_tokenizer, "\n", "\n\n"),
    }
    # ... or the answer and stop tokenized together: "c\n" is one token.
    assert by_prefix[ids(bpe_tokenizer, "a", "b")] == set(ids(bpe_tokenizer, "c\n"))


def test_no_certificate_for_a_wrong_reading_or_past_the_cap(bpe_tokenizer):
    pool = ending_pool(bpe_tokenizer, ["\n"])
    eos = bpe_tokenizer.eos_token_id
    assert certificates("abc", bpe_tokenizer, ["\n"], eos, pool, lambda t: False, 9) == []
    # Three answer tokens need a fourth step to end; a cap of two never reaches the answer.
    assert certificates("abc", bpe_tokenizer, ["\n"], eos, pool, lambda t: t.strip() == "abc", 2) == []
    # At a cap of three, decoding stops right after the answer: certified without an
    # ending; "a", "b" then the merged "c\n" still ends within the cap.
    capped = certificates("abc", bpe_tokenizer, ["\n"], eos, pool, lambda t: t.strip() == "abc", 3)
    assert set(capped) == {
        Certificate(ids(bpe_tokenizer, "a", "b", "c"), (), capped=True),
        Certificate(ids(bpe_tokenizer, "a", "b"), ids(bpe_tokenizer, "c\n")),
    }


def test_certificates_hold_by_the_margin_on_the_prefix_and_the_ending_set():
    vocab = 6
    batch = CertificateBatch.pack(
        [
            [Certificate((1, 2), (4, 5))],
            [Certificate((3,), (4,))],
            [],  # no certificate: never holds
        ],
        pad_id=0,
    )
    logits = torch.zeros(len(batch.rows), 3, vocab)
    # Row 0: 1 then 2 win, then 5 (an ending) wins over the best non-ending by 1.
    logits[0, 0, 1], logits[0, 1, 2], logits[0, 2, 5], logits[0, 2, 3] = 1.0, 1.0, 2.0, 1.0
    # Row 1: 3 wins, then ending 4 wins by only 0.005 < the float32 margin 0.01.
    logits[1, 0, 3], logits[1, 1, 4], logits[1, 1, 0] = 1.0, 1.0, 0.995
    assert certificates_hold(logits, batch).tolist() == [True, False, False]
    logits[1, 1, 0] = 0.9
    assert certificates_hold(logits, batch).tolist() == [True, True, False]
    logits[0, 1, 3] = 1.0  # a tie on the prefix
    assert certificates_hold(logits, batch).tolist() == [False, True, False]


def test_first_step_filter_reads_the_prompt_pass_logits():
    batch = CertificateBatch.pack(
        [[Certificate((1, 2), (4,))], [Certificate((), (4, 5))], [Certificate((3,), (4,))], []], pad_id=0
    )
    first = torch.zeros(4, 6)
    first[0, 1] = 1.0  # prefix starts with 1: possible
    first[1, 5] = 1.0  # empty prefix: an ending (5) wins, possible
    first[2, 4] = 1.0  # 3 was needed first: impossible
    assert first_step_holds(first, batch).tolist() == [True, True, False, False]


def test_policy_skips_certification_that_does_not_pay_and_probes_again():
    policy = CertificationPolicy(window=2, probe_every=3)
    assert policy.should_certify()
    # A good model: half the rows certified, certifying costs less than decoding them.
    policy.record(0.5, certify_seconds=1.0, decode_seconds=10.0, decoded_rows=50, rows=100)
    assert policy.should_certify()
    # A poor merge: nothing certified twice in a row, the pass is pure cost.
    policy.record(0.0, certify_seconds=1.0, decode_seconds=20.0, decoded_rows=100, rows=100)
    policy.record(0.0, certify_seconds=1.0, decode_seconds=20.0, decoded_rows=100, rows=100)
    assert not policy.should_certify()
    policy.record(None, certify_seconds=0.0, decode_seconds=20.0, decoded_rows=100, rows=100)
    assert not policy.should_certify()
    policy.record(None, certify_seconds=0.0, decode_seconds=20.0, decoded_rows=100, rows=100)
    assert policy.should_certify()  # the probe
    policy.record(0.9, certify_seconds=1.0, decode_seconds=2.0, decoded_rows=10, rows=100)
    assert policy.should_certify()


@pytest.fixture(scope="module")
def newline_case(tmp_path_factory, bpe_tokenizer):
    """Rows right on even and wrong on odd indices, read from the model's own outputs."""
    model = make_newline_llama(bpe_tokenizer)
    rows = copy_examples(48, seed=7)
    outputs = reference_generate(model, bpe_tokenizer, [r["prompt"] for r in rows], 8, ["\n"])
    for i, (row, out) in enumerate(zip(rows, outputs, strict=True)):
        answer = bpe_tokenizer.decode(out, skip_special_tokens=True).split("\n")[0]
        row["answer"] = answer if i % 2 == 0 else answer + "a"
    path = write_jsonl(tmp_path_factory.mktemp("bpe") / "newline.jsonl", rows)
    return model, path, outputs


def test_bpe_certification_covers_merged_stops_and_keeps_the_score(newline_case, bpe_tokenizer):
    model, path, outputs = newline_case
    fast = ExactMatch("em", path, bpe_tokenizer, max_new_tokens=8)
    full = ExactMatch("em", path, bpe_tokenizer, max_new_tokens=8, certify=False)
    # The decoding path reproduces generate with a stopping criterion, row by row.
    texts = [bpe_tokenizer.decode(out, skip_special_tokens=True) for out in outputs]
    assert full.predict(model) == texts
    certified = fast.certified_rows(model)
    assert not certified[1::2].any()
    # Right rows that ended in each way are certified: the merged "c\n", "\n", EOS.
    vocab = bpe_tokenizer.get_vocab()
    endings = {outputs[i][-1] for i in certified.nonzero().flatten().tolist()}
    assert {vocab["c\n"], vocab["\n"], bpe_tokenizer.eos_token_id} <= endings
    a, b = fast.evaluate(model), full.evaluate(model)
    assert a.ok and (a.value, a.stderr) == (b.value, b.stderr)
    assert a.value == pytest.approx(0.5)
