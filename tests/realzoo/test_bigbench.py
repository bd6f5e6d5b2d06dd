from __future__ import annotations

import json

import pytest

from mmmo.errors import ZooError
from mmmo.objectives.data import read_answer_rows
from mmmo.realzoo.bigbench import Example, parse_task, read_tasks, split_task, write_jsonl

from conftest import addition_task, write_fake_sdist


def test_reads_a_subtask_and_a_task_from_the_archive(fake_sdist):
    tasks = read_tasks(fake_sdist, ("arithmetic/2_digit_addition", "object_counting"))
    addition = tasks["arithmetic/2_digit_addition"]
    assert len(addition) == 40
    assert addition[3] == Example("Q: What is 3 plus 4?\nA:", " 7")
    # A list of targets gives its first entry; the multiple-choice-only example is skipped.
    counting = tasks["object_counting"]
    assert len(counting) == 30
    assert counting[2].answer == " three"


def test_a_missing_task_is_named(fake_sdist):
    with pytest.raises(ZooError, match=r"no task \['arithmetic/9_digit_addition'\]"):
        read_tasks(fake_sdist, ("object_counting", "arithmetic/9_digit_addition"))


def test_a_task_without_single_targets_is_refused(fake_sdist):
    with pytest.raises(ZooError, match="choices/task.json: no example with a single"):
        read_tasks(fake_sdist, ("choices",))


def test_a_parent_task_of_subtasks_is_refused(tmp_path):
    sdist = write_fake_sdist(tmp_path / "b.tar.gz", {"arithmetic": {"name": "arithmetic", "subtasks": []}})
    with pytest.raises(ZooError, match="named by its subtask"):
        read_tasks(sdist, ("arithmetic",))


def test_an_unreadable_archive_is_named(tmp_path):
    bad = tmp_path / "bigbench.tar.gz"
    bad.write_bytes(b"truncated")
    with pytest.raises(ZooError, match="bigbench.tar.gz"):
        read_tasks(bad, ("object_counting",))


def test_task_prefixes_and_multiline_targets():
    task = {
        "example_input_prefix": "Input: ",
        "example_output_prefix": "\nOutput: ",
        "examples": [
            {"input": " abc ", "target": "cba"},
            {"input": "two lines", "target": "a\nb"},
            {"input": "empty", "target": " "},
        ],
    }
    assert parse_task(task, "t") == (Example("Input: abc\nOutput:", " cba"),)


def test_split_is_disjoint_deterministic_and_sized():
    examples = parse_task(addition_task(40), "t")
    duplicated = examples + examples[:5]
    split = split_task("add", duplicated, train_size=25, test_size=10, seed=0)
    assert len(split.test) == 10 and len(split.train) == 25
    assert not {e.prompt for e in split.train} & {e.prompt for e in split.test}
    assert split == split_task("add", duplicated, 25, 10, seed=0)
    assert split.test != split_task("add", duplicated, 25, 10, seed=1).test
    small = split_task("add", examples, train_size=100, test_size=30, seed=0)
    assert len(small.test) == 30 and len(small.train) == 10


def test_jsonl_is_what_the_objectives_read(tmp_path):
    examples = parse_task(addition_task(5), "t")
    path = write_jsonl(examples, tmp_path / "data" / "test.jsonl")
    assert read_answer_rows(path) == [(e.prompt, e.answer) for e in examples]
    assert json.loads(path.read_text().splitlines()[0]) == {"prompt": "Q: What is 0 plus 1?\nA:", "answer": " 1"}
