"""The tokenization convention every objective and the zoo's training share.

The prompt is ``tokenizer(prompt)`` with the tokenizer's own special tokens
(the zoo tokenizer prepends BOS); an answer continuation is
``tokenizer(answer, add_special_tokens=False)`` followed by EOS.
"""

from __future__ import annotations

from typing import Any

from mmmo.errors import ObjectiveError


def special_id(tokenizer: Any, which: str) -> int:
    """The id of the tokenizer's ``bos``/``eos``/``pad`` token; an error if it has none."""
    token_id = getattr(tokenizer, f"{which}_token_id", None)
    if token_id is None:
        raise ObjectiveError(f"tokenizer {type(tokenizer).__name__} has no {which} token")
    return int(token_id)


def pad_id_of(tokenizer: Any) -> int:
    """The pad id, or EOS where the tokenizer has no pad token (never attended to)."""
    pad = getattr(tokenizer, "pad_token_id", None)
    return int(pad) if pad is not None else special_id(tokenizer, "eos")


def prompt_ids(tokenizer: Any, prompt: str) -> list[int]:
    """Token ids of a prompt, with the tokenizer's special tokens (e.g. BOS).

    A prompt must encode to at least one token: the first answer token is
    predicted from the prompt's last one.
    """
    ids = list(tokenizer(prompt).input_ids)
    if not ids:
        raise ObjectiveError(f"prompt {prompt!r} encodes to no tokens (and the tokenizer adds no BOS)")
    return ids


def answer_ids(tokenizer: Any, answer: str) -> list[int]:
    """Token ids of an answer continuation: the answer's tokens, then EOS."""
    return list(tokenizer(answer, add_special_tokens=False).input_ids) + [special_id(tokenizer, "eos")]
