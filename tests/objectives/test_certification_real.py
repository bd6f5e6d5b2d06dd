"""Certification and stopping on the real zoo's SmolLM2 tokenizer and model.

Skipped where the real zoo is not built in the cache (as in CI); the BPE
cases CI needs are covered with a tokenizer built in the tests
(``test_certification.py``).
"""

from __future__ import annotations

import pytest
import torch

from mmmo.objectives.certification import certificates, ending_pool
from mmmo.objectives.exact_match import ExactMatch
from tests.objectives.conftest import reference_generate

ADDITION = "arithmetic.2_digit_addition"


@pytest.fixture(scope="module")
def real_zoo():
    from mmmo.realzoo import RealZoo, RealZooConfig, real_zoo_dir

    root = real_zoo_dir(RealZooConfig())
    if not (root / "manifest.json").is_file() or not (root / "base" / "tokenizer.json").is_file():
        pytest.skip(f"the real zoo is not built in this cache ({root})")
    return RealZoo.load(root)


@pytest.fixture(scope="module")
def smollm_tokenizer(real_zoo):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(real_zoo.base)


def test_every_certificate_decodes_to_the_answer_then_the_stop(smollm_tokenizer):
    tokenizer = smollm_tokenizer
    stops = ["\n"]
    pool = ending_pool(tokenizer, stops)
    assert tokenizer.convert_tokens_to_ids("Ċ") in pool  # byte-level BPE's newline
    for answer in (" 89", " -14", " eleven", " 7.", "yes", " 100 "):
        def reads_right(text, answer=answer):
            return text.split("\n")[0].strip() == answer.strip()

        found = certificates(answer, tokenizer, stops, tokenizer.eos_token_id, pool, reads_right, 8)
        assert found, answer
        for cert in found:
            for ending in cert.endings:
                text = tokenizer.decode([*cert.prefix, ending], skip_special_tokens=True)
                assert text.split("\n")[0].strip() == answer.strip()
                assert ending == tokenizer.eos_token_id or "\n" in text
        # The newline token and EOS both end the answer's own tokens.
        own = tuple(tokenizer(answer, add_special_tokens=False).input_ids)
        endings = {e for cert in found if cert.prefix == own for e in cert.endings}
        assert {tokenizer.eos_token_id, *tokenizer("\n", add_special_tokens=False).input_ids} <= endings


@pytest.mark.slow
def test_certified_and_decoded_scores_equal_generate_on_the_addition_expert(real_zoo, smollm_tokenizer, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(1)
    base = AutoModelForCausalLM.from_pretrained(real_zoo.base).eval()
    model = PeftModel.from_pretrained(base, real_zoo.adapters[ADDITION]).merge_and_unload().eval()
    fast = ExactMatch("em", real_zoo.tests[ADDITION], smollm_tokenizer, limit=24)
    full = ExactMatch("em", real_zoo.tests[ADDITION], smollm_tokenizer, limit=24, certify=False)
    certified = fast.certified_rows(model)
    assert int(certified.sum()) >= 12  # the expert ends its answers with a newline, and they are certified
    a, b = fast.evaluate(model), full.evaluate(model)
    assert a.ok and (a.value, a.stderr) == (b.value, b.stderr)
    # The decoding path reads as generate with a stop-string criterion does, row by row.
    prompts = [prompt for prompt, _ in full.examples]
    outputs = reference_generate(model, smollm_tokenizer, prompts, full.max_new_tokens, ["\n"])
    texts = [smollm_tokenizer.decode(out, skip_special_tokens=True) for out in outputs]
    assert full.predict(model) == texts
    assert sum(full.matches(text, row) for row, text in enumerate(texts)) == round(b.value * 24)
