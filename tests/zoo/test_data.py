"""Zoo data: deterministic splits, disjoint train/test, committed test splits."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mmmo.zoo import ZooConfig, make_splits
from mmmo.zoo.tasks import TASKS, input_of, read_jsonl, write_jsonl

REPO_SPLITS = Path(__file__).resolve().parents[2] / "objectives" / "zoo"


def test_splits_are_deterministic_and_train_never_sees_a_test_input():
    config = ZooConfig.tiny()
    first, second = make_splits(config), make_splits(config)
    assert first == second
    for name in config.tasks:
        test_inputs = {input_of(e) for e in first.test[name]}
        assert len(test_inputs) == config.test_examples
        assert test_inputs.isdisjoint(input_of(e) for e in first.train[name])
        keyword = TASKS[name].keywords[0]
        for example in first.test[name]:
            assert example.prompt.startswith(keyword + " ") and example.prompt.endswith("=")
            assert example.answer == TASKS[name].transform(input_of(example), config.alphabet)


def test_a_task_split_does_not_depend_on_the_other_tasks():
    config = ZooConfig.tiny()
    fewer = dataclasses.replace(config, held_out_tasks=())
    assert make_splits(fewer).test[config.expert_tasks[0]] == make_splits(config).test[config.expert_tasks[0]]


def test_jsonl_round_trip(tmp_path):
    examples = make_splits(ZooConfig.tiny()).test["shift2"]
    write_jsonl(examples, tmp_path / "x.jsonl")
    assert read_jsonl(tmp_path / "x.jsonl") == examples


def test_committed_test_splits_are_those_of_the_default_zoo(tmp_path):
    """``objectives/zoo/<task>.jsonl`` (used by the lm-eval task files) are
    what the default config generates, byte for byte."""
    config = ZooConfig()
    splits = make_splits(config)
    for name in config.tasks:
        write_jsonl(splits.test[name], tmp_path / f"{name}.jsonl")
        committed = REPO_SPLITS / f"{name}.jsonl"
        assert committed.is_file(), f"{committed} is missing; run benchmarks/zoo_build.py --write-splits"
        assert committed.read_bytes() == (tmp_path / f"{name}.jsonl").read_bytes(), committed
