"""All data of a zoo, generated from its config (pure Python, no training)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from mmmo.zoo.config import ZooConfig
from mmmo.zoo.tasks import (
    Example,
    get_task,
    input_of,
    interleave,
    make_examples,
    make_noise,
    make_test_split,
)


@dataclass(frozen=True)
class ZooSplits:
    """All examples of a zoo: the base's pretraining mix, and train/test per task."""

    pretrain: list[Example]
    train: dict[str, list[Example]]
    test: dict[str, list[Example]]


def make_splits(config: ZooConfig) -> ZooSplits:
    """All data of the zoo of ``config`` (pure Python, deterministic, fast)."""
    shape = (config.alphabet, config.min_len, config.max_len)
    test = {
        name: make_test_split(get_task(name), config.test_examples, config.seed, *shape)
        for name in config.tasks
    }
    train = {}
    for name in config.tasks:
        rng = random.Random(f"{config.seed}:train:{name}")
        held = frozenset(input_of(e) for e in test[name])
        train[name] = make_examples(
            get_task(name), config.train_examples, rng, *shape, all_keywords=False, exclude_inputs=held
        )
    rng = random.Random(f"{config.seed}:pretrain")
    groups = [
        make_examples(get_task(name), config.pretrain_examples, rng, *shape)
        for name in config.pretrain_tasks
    ]
    n_real = config.pretrain_examples * len(config.pretrain_tasks)
    n_noise = round(n_real * config.noise_fraction / (1 - config.noise_fraction))
    groups.append(make_noise(n_noise, rng, *shape))
    return ZooSplits(interleave(groups, rng), train, test)
