"""A zoo small enough to build several times per test session."""

from __future__ import annotations

import dataclasses

import pytest

from mmmo.zoo import ZooConfig


@pytest.fixture
def micro_config() -> ZooConfig:
    """Seconds to build; learns nothing, but exercises every stage."""
    return dataclasses.replace(
        ZooConfig.tiny(),
        hidden_size=16,
        num_layers=1,
        num_heads=2,
        intermediate_size=32,
        pretrain_tasks=("copy", "reverse"),
        pretrain_examples=40,
        pretrain_steps=4,
        train_examples=40,
        test_examples=8,
        finetune_steps=3,
        batch_size=8,
    )


@pytest.fixture
def zoo_cache(tmp_path, monkeypatch):
    """A private cache root, so builds in a test never touch the shared one."""
    monkeypatch.setenv("MMMO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"
