"""ZooConfig: validation that names the field, and the cache key."""

from __future__ import annotations

import dataclasses

import pytest

from mmmo.errors import ConfigError
from mmmo.zoo import ZooConfig


def test_cache_key_is_stable_and_covers_every_setting():
    config = ZooConfig()
    assert config.cache_key() == ZooConfig().cache_key()
    assert ZooConfig.tiny().cache_key() != config.cache_key()
    for field in dataclasses.fields(ZooConfig):
        value = getattr(config, field.name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        candidates = [value + 1, value * 2, value - 1] if isinstance(value, int) else [value + 0.01]
        changed = None
        for candidate in candidates:
            try:
                changed = dataclasses.replace(config, **{field.name: candidate})
                break
            except ConfigError:  # e.g. min_len past max_len, hidden_size not divisible by num_heads
                continue
        assert changed is not None and changed != config, field.name
        assert changed.cache_key() != config.cache_key(), field.name
    for field in ("alphabet", "pretrain_tasks", "expert_tasks", "held_out_tasks"):
        shorter = dataclasses.replace(config, **{field: getattr(config, field)[:-1]})
        assert shorter.cache_key() != config.cache_key(), field


def test_lists_are_stored_as_tuples():
    config = ZooConfig(expert_tasks=["shift2", "sort_desc"], held_out_tasks=[])
    assert config.expert_tasks == ("shift2", "sort_desc") and config.held_out_tasks == ()
    assert config.cache_key() == ZooConfig(expert_tasks=("shift2", "sort_desc"), held_out_tasks=()).cache_key()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"expert_tasks": ("nope",)}, "expert_tasks"),
        ({"expert_tasks": ("copy",)}, "expert_tasks"),
        ({"pretrain_tasks": ("shift2",)}, "pretrain_tasks"),
        ({"expert_tasks": ()}, "expert_tasks"),
        ({"held_out_tasks": ("shift2",)}, "held_out_tasks"),
        ({"alphabet": "ab"}, "alphabet"),
        ({"alphabet": "aab"}, "alphabet"),
        ({"alphabet": "ABC"}, "alphabet"),
        ({"min_len": 5, "max_len": 4}, "min_len"),
        ({"hidden_size": 30}, "hidden_size"),
        ({"replay_fraction": 1.0}, "replay_fraction"),
        ({"finetune_steps": 0}, "finetune_steps"),
    ],
)
def test_bad_settings_name_the_field(changes, field):
    with pytest.raises(ConfigError, match=f"ZooConfig.{field}"):
        ZooConfig(**changes)


def test_deep_zoo_is_the_demo_zoo_on_eight_layers_under_its_own_cache_key():
    deep, demo = ZooConfig.deep(), ZooConfig()
    assert deep.num_layers == 8 >= 8
    assert deep.expert_tasks == demo.expert_tasks and deep.hidden_size == demo.hidden_size
    assert deep.cache_key() != demo.cache_key()
    differing = {f.name for f in dataclasses.fields(ZooConfig) if getattr(deep, f.name) != getattr(demo, f.name)}
    assert differing == {"num_layers", "pretrain_steps"}
