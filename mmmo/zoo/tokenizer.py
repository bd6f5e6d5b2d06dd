"""The zoo's character-level tokenizer, a normal Hugging Face fast tokenizer.

Token ids: ``<pad>`` 0, ``<s>`` 1, ``</s>`` 2, ``<unk>`` 3, then one id per
character of :data:`mmmo.zoo.tasks.VOCABULARY`. ``tokenizer(text)`` prepends
``<s>``; ``padding_side`` is ``"left"`` so batched greedy generation lines up.
"""

from __future__ import annotations

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from mmmo.zoo.tasks import VOCABULARY

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)


def build_tokenizer(vocabulary: str = VOCABULARY) -> PreTrainedTokenizerFast:
    """A character-level tokenizer over ``vocabulary`` plus the special tokens."""
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for char in vocabulary:
        vocab.setdefault(char, len(vocab))
    core = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    # Every character is its own piece; whitespace is a token like any other.
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.decoder = decoders.Fuse()
    core.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, vocab[BOS])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        padding_side="left",
        clean_up_tokenization_spaces=False,
        model_max_length=128,
    )
