"""Synthetic tasks and their data: deterministic, disjoint splits, committed copies."""

from __future__ import annotations

import random

import pytest

from mmmo.errors import ConfigError
from mmmo.zoo.tasks import (
    COMPOSITE_NAMES,
    PRIMITIVE_NAMES,
    TASKS,
    VOCABULARY,
    make_noise,
    make_test_split,
)

@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("copy", "abc", "abc"),
        ("reverse", "abc", "cba"),
        ("sort", "cab", "abc"),
        ("next", "abl", "bca"),  # l wraps around to a in the alphabet a..l
        ("prev", "abl", "lak"),
        ("rotate", "abcd", "bcda"),
        ("double", "ab", "aabb"),
        ("swap", "abcde", "badce"),
        ("tail", "abc", "bc"),
        ("evens", "abcde", "ace"),
        ("sort_desc", "acb", "cba"),
        ("shift2", "akl", "cab"),
        ("reverse_next", "abl", "acb"),
        ("rotate_prev", "abc", "abl"),
        ("swap_reverse", "abcd", "cdab"),
        ("double_next", "al", "bbaa"),
    ],
)
def test_task_transforms(name, text, expected):
    assert TASKS[name].transform(text, "abcdefghijkl") == expected


def test_keywords_are_unique_and_written_in_the_vocabulary():
    keywords = [k for task in TASKS.values() for k in task.keywords]
    assert len(keywords) == len(set(keywords))
    assert all(set(k) <= set(VOCABULARY) for k in keywords)
    assert set(PRIMITIVE_NAMES).isdisjoint(COMPOSITE_NAMES)


def test_noise_never_uses_a_known_keyword():
    known = {k for task in TASKS.values() for k in task.keywords}
    noise = make_noise(2000, random.Random(0), "abcdefgh", 3, 6)
    assert {e.prompt.split(" ")[0] for e in noise}.isdisjoint(known)


def test_too_many_test_examples_for_the_input_space_is_a_config_error():
    with pytest.raises(ConfigError, match="test_examples"):
        make_test_split(TASKS["copy"], 50, 0, "abc", 1, 2)
