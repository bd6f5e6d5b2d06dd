from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import yaml

from mmmo.errors import ObjectiveError
from mmmo.objectives.exact_match import ExactMatch
from mmmo.objectives.lm_eval_objective import LmEvalObjective, localize_task_dir
from tests.objectives.conftest import copy_examples, write_jsonl

MAX_NEW = 8


def task_yaml(name: str, data_file: str, **extra) -> dict:
    return {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": data_file}},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_text": "prompt",
        "doc_to_target": "answer",
        "generation_kwargs": {"until": ["</s>"], "do_sample": False, "max_gen_toks": MAX_NEW},
        # Strip both sides, as the built-in exact match does.
        "metric_list": [
            {
                "metric": "exact_match",
                "aggregation": "mean",
                "higher_is_better": True,
                "regexes_to_ignore": ["^\\s+", "\\s+$"],
            }
        ],
        "metadata": {"version": 1.0},
        **extra,
    }


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory, tiny_llama, char_tokenizer) -> Path:
    """A YAML task whose data path is relative to the YAML's folder; gold answers
    are the model's own outputs on even rows, so the score is 1/2 on this model."""
    folder = tmp_path_factory.mktemp("tasks")
    rows = copy_examples(16, seed=8)
    path = write_jsonl(folder / "copy.jsonl", rows)
    outputs = ExactMatch("em", path, char_tokenizer, max_new_tokens=MAX_NEW).predict(tiny_llama)
    for i, (row, out) in enumerate(zip(rows, outputs, strict=True)):
        row["answer"] = out if i % 2 == 0 else out + "b"
    write_jsonl(path, rows)
    (folder / "copy.yaml").write_text(yaml.safe_dump(task_yaml("tiny_copy", "copy.jsonl")))
    return folder


def test_same_score_as_built_in_exact_match_on_the_live_model(task_dir, tiny_llama, char_tokenizer):
    objective = LmEvalObjective(
        "lm", "tiny_copy", char_tokenizer, metric="exact_match", include_path=task_dir
    )
    built_in = ExactMatch("em", task_dir / "copy.jsonl", char_tokenizer, max_new_tokens=MAX_NEW)
    model = copy.deepcopy(tiny_llama)
    measured = objective.evaluate(model, char_tokenizer)
    assert measured.ok and measured.n == 16
    assert measured.value == built_in.evaluate(model).value == 0.5
    assert measured.stderr == pytest.approx(built_in.evaluate(model).stderr)
    assert objective.direction == "maximize"
    assert objective._wrapper(model).model is model  # the live model, not a copy

    # Weights changed in place are what the next call scores.
    with torch.no_grad():
        model.lm_head.weight.mul_(-1.0)
    changed = objective.evaluate(model, char_tokenizer)
    assert changed.value == built_in.evaluate(model).value < 0.5


def test_limit_scores_the_same_examples_as_built_in(task_dir, tiny_llama, char_tokenizer):
    objective = LmEvalObjective("lm", "tiny_copy", char_tokenizer, include_path=task_dir, limit=5, seed=2)
    built_in = ExactMatch(
        "em", task_dir / "copy.jsonl", char_tokenizer, limit=5, seed=2, max_new_tokens=MAX_NEW
    )
    measured = objective.evaluate(tiny_llama, char_tokenizer)
    assert measured.n == 5
    assert measured.value == built_in.evaluate(tiny_llama).value
    assert objective.metric == "exact_match" and objective.filter == "none"


def test_direction_follows_higher_is_better_unless_given(tmp_path, task_dir, char_tokenizer):
    config = task_yaml("tiny_lower", str(task_dir / "copy.jsonl"))
    config["metric_list"][0]["higher_is_better"] = False
    (tmp_path / "lower.yaml").write_text(yaml.safe_dump(config))
    assert LmEvalObjective("lm", "tiny_lower", char_tokenizer, include_path=tmp_path).direction == "minimize"
    forced = LmEvalObjective("lm", "tiny_lower", char_tokenizer, include_path=tmp_path, direction="maximize")
    assert forced.direction == "maximize"


def test_unknown_task_metric_or_filter_is_refused(task_dir, char_tokenizer):
    with pytest.raises(ObjectiveError, match="no task 'nope'"):
        LmEvalObjective("lm", "nope", char_tokenizer, include_path=task_dir)
    with pytest.raises(ObjectiveError, match="no metric 'acc'.*exact_match"):
        LmEvalObjective("lm", "tiny_copy", char_tokenizer, include_path=task_dir, metric="acc")
    with pytest.raises(ObjectiveError, match="no filter 'strict'.*none"):
        LmEvalObjective("lm", "tiny_copy", char_tokenizer, include_path=task_dir, metric="exact_match,strict")


def test_localized_copy_has_absolute_data_paths(task_dir):
    local = localize_task_dir(task_dir)
    config = yaml.safe_load((local / "copy.yaml").read_text())
    assert config["dataset_kwargs"]["data_files"]["test"] == str((task_dir / "copy.jsonl").resolve())
    # The user's file is left as written.
    assert (
        yaml.safe_load((task_dir / "copy.yaml").read_text())["dataset_kwargs"]["data_files"]["test"]
        == "copy.jsonl"
    )


REPO_TASKS = Path(__file__).resolve().parents[2] / "objectives" / "zoo"


def test_repo_zoo_task_gives_built_in_score(tmp_path, tiny_llama, char_tokenizer):
    """The repository's zoo YAML tasks, on a stand-in test split, score like ExactMatch."""
    import shutil

    for path in REPO_TASKS.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    rows = copy_examples(12, seed=9)
    data = write_jsonl(tmp_path / "shift2.jsonl", rows)
    outputs = ExactMatch("em", data, char_tokenizer, max_new_tokens=9).predict(tiny_llama)
    for i, (row, out) in enumerate(zip(rows, outputs, strict=True)):
        row["answer"] = out.strip() if i % 3 else "x"
    write_jsonl(data, rows)
    objective = LmEvalObjective("lm", "zoo_shift2", char_tokenizer, include_path=tmp_path)
    built_in = ExactMatch("em", data, char_tokenizer, max_new_tokens=9)
    assert (
        objective.evaluate(tiny_llama).value == built_in.evaluate(tiny_llama).value == pytest.approx(8 / 12)
    )


def test_chat_template_gives_the_built_in_chat_score(tmp_path):
    """``chat_template`` (and a system prompt) render lm-eval's requests as the
    built-in exact match renders its prompts: the same score on the same model."""
    from tests.objectives.conftest import make_tiny_llama
    from tests.objectives.test_prompts import make_chat_tokenizer

    from mmmo.objectives.prompts import AnswerMatching, PromptFormat

    tokenizer = make_chat_tokenizer()
    model = make_tiny_llama(len(tokenizer), seed=5)
    rows = [{"prompt": p, "answer": "x"} for p in ("What is 6 times 7?", "Who races Eric?", "Is it yes?", "Why?")]
    path = write_jsonl(tmp_path / "chat.jsonl", rows)
    fmt = PromptFormat(chat_template=True, system_prompt="Answer briefly.")
    matching = AnswerMatching.create(stop=[])
    outputs = ExactMatch("em", path, tokenizer, max_new_tokens=MAX_NEW, prompt_format=fmt, matching=matching).predict(model)
    for i, (row, out) in enumerate(zip(rows, outputs, strict=True)):
        row["answer"] = out if i % 2 == 0 else out + "zz"
    write_jsonl(path, rows)
    (tmp_path / "chat.yaml").write_text(yaml.safe_dump(task_yaml("tiny_chat", "chat.jsonl")))
    objective = LmEvalObjective("lm", "tiny_chat", tokenizer, include_path=tmp_path, chat_template=True,
                                system_prompt="Answer briefly.")
    built_in = ExactMatch("em", path, tokenizer, max_new_tokens=MAX_NEW, prompt_format=fmt, matching=matching)
    assert objective.evaluate(model).value == built_in.evaluate(model).value == 0.5
    plain = LmEvalObjective("lm", "tiny_chat", tokenizer, include_path=tmp_path)
    assert plain.evaluate(model).value != 0.5


def test_chat_template_needs_one(task_dir, char_tokenizer):
    with pytest.raises(ObjectiveError, match="objective 'lm': chat_template is true but the tokenizer"):
        LmEvalObjective("lm", "tiny_copy", char_tokenizer, include_path=task_dir, chat_template=True)


def test_a_promoted_lm_eval_score_equals_a_full_evaluation(task_dir, tiny_llama, char_tokenizer):
    from mmmo.fidelity.scoring import evaluate_at_fidelity, objective_order

    objective = LmEvalObjective("lm", "tiny_copy", char_tokenizer, include_path=task_dir, limit=12, seed=1)
    assert len(objective) == 12 and objective.subsets
    low, cost = evaluate_at_fidelity([objective], tiny_llama, char_tokenizer, 0.25, seed=4)
    assert cost == 3
    order = objective_order(objective, 4)
    assert list(low["lm"].scores) == objective.example_scores(tiny_llama, order[:3]).tolist()
    full, cost = evaluate_at_fidelity([objective], tiny_llama, char_tokenizer, 1.0, prior={"lm": low["lm"].scores}, seed=4)
    fresh = objective.evaluate(tiny_llama, char_tokenizer)
    assert cost == 9 and full["lm"].value == fresh.value and full["lm"].n == fresh.n
    assert full["lm"].stderr == pytest.approx(fresh.stderr)
