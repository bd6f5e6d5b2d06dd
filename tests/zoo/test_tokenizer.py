"""The zoo tokenizer: character level, BOS first, left padding, HF round trip."""

from __future__ import annotations

from transformers import AutoTokenizer

from mmmo.zoo import VOCABULARY, build_tokenizer


def test_one_token_per_character_and_bos_first():
    tokenizer = build_tokenizer()
    ids = tokenizer("jump abc=").input_ids
    assert ids[0] == tokenizer.bos_token_id
    assert len(ids) == 1 + len("jump abc=")
    assert tokenizer.decode(ids[1:]) == "jump abc="
    assert tokenizer("ab", add_special_tokens=False).input_ids == [
        tokenizer.convert_tokens_to_ids("a"),
        tokenizer.convert_tokens_to_ids("b"),
    ]


def test_vocabulary_is_explicit_and_unknowns_map_to_unk():
    tokenizer = build_tokenizer()
    assert len(tokenizer) == 4 + len(VOCABULARY)
    assert len({tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id}) == 4
    assert tokenizer("A", add_special_tokens=False).input_ids == [tokenizer.unk_token_id]


def test_saved_tokenizer_loads_with_auto_tokenizer_and_pads_left(tmp_path):
    build_tokenizer().save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded.padding_side == "left"
    batch = loaded(["ab", "abcd"], padding=True)
    assert batch.input_ids[0][:2] == [loaded.pad_token_id] * 2
    assert batch.attention_mask[0] == [0, 0, 1, 1, 1]
    assert loaded("jump abc=").input_ids == build_tokenizer()("jump abc=").input_ids
