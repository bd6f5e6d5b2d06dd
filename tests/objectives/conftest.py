"""A tiny character-level Llama and data files for the objective tests.

The model is random (no training, so the fixtures cost milliseconds); its EOS
logit is tied to one letter's so that greedy decoding stops at different
lengths on different prompts and early stopping is exercised.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

LETTERS = "abcdefgh"
SPECIALS = ("<pad>", "<s>", "</s>", "<unk>")


def _fast_tokenizer(core: Tokenizer) -> PreTrainedTokenizerFast:
    """``core`` with a BOS prefix and the special tokens of ``SPECIALS``, padding on the left."""
    core.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )


def make_char_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {token: i for i, token in enumerate(SPECIALS)}
    for char in LETTERS + "=: ":
        vocab[char] = len(vocab)
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.decoder = decoders.Fuse()
    return _fast_tokenizer(core)


def copy_examples(count: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        word = "".join(rng.choice(LETTERS) for _ in range(rng.randint(1, 7)))
        rows.append({"prompt": f"{word}=", "answer": word})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """The models here are tiny: a second thread costs more in synchronisation
    than it saves, many times over on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def char_tokenizer() -> PreTrainedTokenizerFast:
    return make_char_tokenizer()


def make_tiny_llama(vocab_size: int, seed: int = 0) -> LlamaForCausalLM:
    """A random two-layer Llama whose EOS logit copies the letter ``c``'s (plus a
    margin): it stops wherever it would have written ``c``, so different prompts
    stop after different numbers of tokens."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        # Larger weights than the default init so the argmax depends on the input.
        for param in model.parameters():
            if param.dim() == 2:
                param.normal_(0.0, 0.3)
        head = model.lm_head.weight
        head[2] = head[4 + LETTERS.index("c")] * 1.05
    return model


@pytest.fixture(scope="session")
def tiny_llama(char_tokenizer) -> LlamaForCausalLM:
    return make_tiny_llama(len(char_tokenizer))


@pytest.fixture(scope="session")
def answers_file(tmp_path_factory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("data") / "copy.jsonl", copy_examples(40, seed=2))


# Newline-ending merges: "c\n" is one token, so an answer ending in "c" followed
# by the stop "\n" is tokenized differently from the answer alone.
BPE_MERGED = ("c\n", "d\n")


def make_bpe_tokenizer() -> PreTrainedTokenizerFast:
    """A small BPE tokenizer (letters, "=", "\\n", "\\n\\n" and letter+newline merges)."""
    vocab = {token: i for i, token in enumerate(SPECIALS)}
    for token in [*LETTERS, "=", "\n", "\n\n", *BPE_MERGED]:
        vocab[token] = len(vocab)
    merges = [("\n", "\n")] + [(token[0], "\n") for token in BPE_MERGED]
    core = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>"))
    core.decoder = decoders.Fuse()
    return _fast_tokenizer(core)


def make_newline_llama(tokenizer: PreTrainedTokenizerFast, seed: int = 0) -> LlamaForCausalLM:
    """A random Llama for ``make_bpe_tokenizer`` that ends its output in several
    ways: it writes "\\n" where it would have written ``e``, the merged "c\\n"
    where it would have written ``c``, and EOS where it would have written ``h``."""
    model = make_tiny_llama(len(tokenizer), seed)
    vocab = tokenizer.get_vocab()
    with torch.no_grad():
        head = model.lm_head.weight
        for target, source in (("\n", "e"), ("c\n", "c"), ("</s>", "h")):
            head[vocab[target]] = head[vocab[source]] * 1.05
    return model


def reference_generate(model, tokenizer, prompts, max_new_tokens, stops):
    """Generated ids of each prompt, one prompt at a time through ``model.generate``
    with a stopping criterion on ``stops`` (no padding, no shared cache)."""
    outputs = []
    for prompt in prompts:
        encoded = tokenizer(prompt, return_tensors="pt")
        out = model.generate(
            **encoded,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            stop_strings=list(stops),
            tokenizer=tokenizer,
        )[0, encoded.input_ids.shape[1] :].tolist()
        outputs.append(out)
    return outputs
