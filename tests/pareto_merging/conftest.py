"""A tiny random Llama and synthetic token tasks, for tests that need no zoo."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from mmmo.pareto_merging.data import TaskExamples

VOCAB = 40


@pytest.fixture
def tiny_llama() -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=64,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        # A head of the default 0.02 scale caps logits near +-0.6, too flat for any
        # task to be learned; a trained model's head is far larger.
        model.lm_head.weight.normal_(0.0, 0.5)
    return model


def constant_answer_task(name: str, answer_token: int, n: int = 32, seed: int = 0) -> TaskExamples:
    """Random 5-token prompts whose 4-token answer repeats one token: a task the
    random model does not know, and that conflicts with another task's token."""
    generator = torch.Generator().manual_seed(seed)
    sequences = tuple(
        tuple([1, *torch.randint(3, VOCAB, (5,), generator=generator).tolist(), *[answer_token] * 4])
        for _ in range(n)
    )
    return TaskExamples(name, "lm", sequences, tuple([6] * n))


@pytest.fixture
def conflicting_tasks() -> list[TaskExamples]:
    """Two tasks that ask the same prompts' kind for different answer tokens."""
    return [constant_answer_task("a", 10, seed=1), constant_answer_task("b", 20, seed=2)]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These models are tiny: one thread is faster than two fighting over a busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
