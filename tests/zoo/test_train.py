"""Encoding for training: the loss covers the answer and EOS only."""

from __future__ import annotations

import torch

from mmmo.zoo import build_tokenizer
from mmmo.zoo.tasks import Example
from mmmo.zoo.train import IGNORE_INDEX, encode_examples, new_model, train


def test_labels_cover_answer_and_eos_only():
    tokenizer = build_tokenizer()
    encoded = encode_examples([Example("jump ab=", "cd"), Example("up a=", "b")], tokenizer)
    prompt = tokenizer("jump ab=").input_ids
    answer = tokenizer("cd", add_special_tokens=False).input_ids + [tokenizer.eos_token_id]
    assert encoded.input_ids[0, : len(prompt) + 3].tolist() == prompt + answer
    assert encoded.labels[0].tolist() == [IGNORE_INDEX] * len(prompt) + answer
    assert encoded.lengths.tolist() == [len(prompt) + 3, len(tokenizer("up a=").input_ids) + 2]
    ids, mask, labels = encoded.batch(torch.tensor([1]))
    assert ids.shape == mask.shape == labels.shape == (1, int(encoded.lengths[1]))
    assert mask.all()


def test_training_lowers_the_loss():
    tokenizer = build_tokenizer()
    data = encode_examples([Example("up abc=", "bcd")] * 8, tokenizer)
    model = new_model(tokenizer, 16, 1, 2, 32, max_positions=32, seed=0)
    losses = train(model, data, steps=30, lr=1e-2, batch_size=4, seed=0)
    assert losses[-1] < 0.5 * losses[0]
    assert not model.training
