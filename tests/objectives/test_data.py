from __future__ import annotations

import pytest

from mmmo.errors import ObjectiveError
from mmmo.objectives.data import (
    read_answer_rows,
    read_choice_rows,
    read_texts,
    subsample,
)


def write(tmp_path, text, name="data.jsonl"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_rows_and_skips_blank_lines(tmp_path):
    path = write(tmp_path, '{"prompt": "a=", "answer": "a"}\n\n{"prompt": "b=", "answer": "b", "extra": 1}\n')
    assert read_answer_rows(path) == [("a=", "a"), ("b=", "b")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"prompt": "a=", "answer": "a"}\n{"prompt": "b="}\n', ":2: missing field 'answer'"),
        ('{"prompt": "a=", "answer": "a"}\n\n{"prompt": "b=", "answer": "b"\n', ":3: not valid JSON"),
        ('["a=", "a"]\n', ":1: expected a JSON object, got list"),
        ('{"prompt": "a=", "answer": 4}\n', ":1: field 'answer' must be str, got int"),
        ("", ": data file is empty"),
        ("\n  \n", ": data file is empty"),
    ],
)
def test_malformed_answer_file_is_refused_naming_file_and_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ObjectiveError) as info:
        read_answer_rows(path)
    assert str(info.value).startswith(str(path))
    assert message in str(info.value)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(ObjectiveError, match="not found"):
        read_answer_rows(tmp_path / "nope.jsonl")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ('{"prompt": "q", "choices": ["a", "b"], "gold": 2}', ":1: gold index 2 is outside 0..1"),
        ('{"prompt": "q", "choices": ["a"], "gold": 0}', "at least two strings"),
        ('{"prompt": "q", "choices": ["a", 3], "gold": 0}', "at least two strings"),
        ('{"prompt": "q", "choices": ["a", "b"], "gold": true}', "field 'gold' must be int, got bool"),
        ('{"prompt": "q", "choices": "ab", "gold": 0}', "field 'choices' must be list"),
    ],
)
def test_malformed_choice_rows_are_refused(tmp_path, row, message):
    path = write(tmp_path, row + "\n")
    with pytest.raises(ObjectiveError, match=message):
        read_choice_rows(path)


def test_texts_from_jsonl_or_plain_file(tmp_path):
    assert read_texts(write(tmp_path, '{"text": "ab"}\n{"text": "cd"}\n')) == ["ab", "cd"]
    assert read_texts(write(tmp_path, "ab\ncd\n", name="doc.txt")) == ["ab\ncd\n"]
    with pytest.raises(ObjectiveError, match="empty"):
        read_texts(write(tmp_path, " \n", name="blank.txt"))
    with pytest.raises(ObjectiveError, match=":1: missing field 'text'"):
        read_texts(write(tmp_path, '{"txt": "ab"}\n', name="bad.jsonl"))


def test_subsample_is_deterministic_and_keeps_file_order():
    items = list(range(100))
    first = subsample(items, 10, seed=1)
    assert first == subsample(items, 10, seed=1)
    assert first != subsample(items, 10, seed=2)
    assert first == sorted(first) and len(set(first)) == 10
    assert subsample(items, 500, seed=1) == items
    assert subsample(items, None) == items
    with pytest.raises(ObjectiveError, match="limit must be positive"):
        subsample(items, 0)


def test_example_order_is_a_seeded_permutation_whose_prefixes_nest():
    from mmmo.errors import ObjectiveError
    from mmmo.objectives.data import example_order, fidelity_count

    order = example_order(50, "3:task")
    assert sorted(order) == list(range(50)) and order == example_order(50, "3:task") != example_order(50, "4:task")
    low, high = order[: fidelity_count(50, 0.2)], order[: fidelity_count(50, 0.6)]
    assert len(low) == 10 and len(high) == 30 and high[:10] == low
    assert fidelity_count(10, 0.3) == 3 and fidelity_count(3, 0.01) == 1 and fidelity_count(7, 1.0) == 7
    with pytest.raises(ObjectiveError, match=r"fidelity must be in \(0, 1\]"):
        fidelity_count(10, 0.0)
