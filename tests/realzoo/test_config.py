from __future__ import annotations

import dataclasses

import pytest

from mmmo.errors import ConfigError
from mmmo.realzoo.config import RealZooConfig, task_key


def test_cache_key_is_stable_and_follows_every_setting():
    config = RealZooConfig()
    assert config.cache_key() == RealZooConfig().cache_key()
    assert config.cache_key().startswith("real-")
    for change in ({"seed": 1}, {"steps": 61}, {"expert_tasks": ("object_counting",)}, {"save_merged": True}):
        assert dataclasses.replace(config, **change).cache_key() != config.cache_key()


def test_lists_become_tuples():
    config = RealZooConfig(expert_tasks=["object_counting"], held_out_tasks="word_unscrambling")
    assert config.expert_tasks == ("object_counting",)
    assert config.held_out_tasks == ("word_unscrambling",)
    assert config.tasks == ("object_counting", "word_unscrambling")


def test_task_key_has_no_slash():
    assert task_key("arithmetic/2_digit_addition") == "arithmetic.2_digit_addition"
    assert task_key("object_counting") == "object_counting"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"expert_tasks": ()}, "expert_tasks"),
        ({"expert_tasks": ("../etc",)}, "expert_tasks"),
        ({"held_out_tasks": ("object_counting",), "expert_tasks": ("object_counting",)}, "listed twice"),
        ({"steps": 0}, "steps"),
        ({"lr": 0.0}, "lr"),
        ({"target_modules": ("attn",)}, "target_modules"),
    ],
)
def test_bad_settings_name_the_field(change, field):
    with pytest.raises(ConfigError, match=field):
        RealZooConfig(**change)
