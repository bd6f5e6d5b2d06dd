"""Built-in exact match and lm-eval's exact_match agree on a zoo expert."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from mmmo.objectives import ExactMatch, LmEvalObjective

REPO_TASKS = Path(__file__).resolve().parents[2] / "objectives" / "zoo"


@pytest.fixture(scope="module")
def zoo(request):
    try:
        return request.getfixturevalue("tiny_zoo")
    except pytest.FixtureLookupError:
        pytest.skip("the tiny_zoo fixture (tests/conftest.py) is not available")


def test_builtin_and_lm_eval_exact_match_agree_on_a_zoo_expert(zoo, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    task = zoo.expert_tasks[0]
    model = AutoModelForCausalLM.from_pretrained(zoo.experts[task]).eval()
    tokenizer = AutoTokenizer.from_pretrained(zoo.experts[task])
    for path in REPO_TASKS.glob("_*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    config = yaml.safe_load((REPO_TASKS / f"zoo_{task}.yaml").read_text())
    config["dataset_kwargs"]["data_files"]["test"] = str(zoo.tasks[task].test)
    (tmp_path / f"zoo_{task}.yaml").write_text(yaml.safe_dump(config))
    cap = yaml.safe_load((REPO_TASKS / "_zoo_exact_match.yaml").read_text())["generation_kwargs"][
        "max_gen_toks"
    ]

    built_in = ExactMatch("em", zoo.tasks[task].test, tokenizer, max_new_tokens=cap, limit=32).evaluate(
        model, tokenizer
    )
    lm_eval = LmEvalObjective("lm", f"zoo_{task}", tokenizer, include_path=tmp_path, limit=32).evaluate(
        model, tokenizer
    )
    assert built_in.ok and lm_eval.ok
    assert built_in.n == lm_eval.n == 32
    # The expert has learned its task, so the agreement is not two zeros.
    assert built_in.value > 0.5
    assert built_in.value == lm_eval.value


def test_every_committed_zoo_split_has_an_lm_eval_task_and_back():
    splits = {p.stem for p in REPO_TASKS.glob("*.jsonl")}
    tasks = {p.stem.removeprefix("zoo_") for p in REPO_TASKS.glob("zoo_*.yaml")}
    assert splits and splits == tasks
    for name in tasks:
        config = yaml.safe_load((REPO_TASKS / f"zoo_{name}.yaml").read_text())
        assert config["task"] == f"zoo_{name}"
        assert config["dataset_kwargs"]["data_files"]["test"] == f"{name}.jsonl"


def test_builtin_and_lm_eval_agree_on_a_merged_model_with_partial_accuracy(zoo, tmp_path):
    from mmmo.merge import Merger
    from mmmo.plan import MergePlan
    from mmmo.sources import ModelPool

    first, second = zoo.expert_tasks[:2]
    pool = ModelPool.load(zoo.base, {first: zoo.experts[first], second: zoo.experts[second]})
    merger = Merger(pool)
    for path in REPO_TASKS.glob("_*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    config = yaml.safe_load((REPO_TASKS / f"zoo_{first}.yaml").read_text())
    config["dataset_kwargs"]["data_files"]["test"] = str(zoo.tasks[first].test)
    (tmp_path / f"zoo_{first}.yaml").write_text(yaml.safe_dump(config))

    built_in = ExactMatch("em", zoo.tasks[first].test, merger.tokenizer, max_new_tokens=9, limit=64)
    lm_eval = LmEvalObjective("lm", f"zoo_{first}", merger.tokenizer, include_path=tmp_path, limit=64)

    # Right and wrong rows both present, so agreement is not a coincidence of
    # extremes. Which weight of the second expert gets there depends on the
    # zoo's trained bits, and those differ between CPUs (vector widths change
    # float sums during training), so the weight is searched, not assumed.
    scores = {}
    for weight in (0.25, 0.5, 0.75, 1.0, 0.125):
        merger.apply(MergePlan.uniform("task_arithmetic", [first, second], weight=[1.0, weight]))
        a = built_in.evaluate(merger.model, merger.tokenizer)
        assert a.ok
        scores[weight] = a.value
        if 0.0 < a.value < 1.0:
            break
    else:
        pytest.fail(f"no merge of {first} + w x {second} scored strictly between 0 and 1 on {first}: {scores}")
    b = lm_eval.evaluate(merger.model, merger.tokenizer)
    assert b.ok
    assert a.value == b.value


def test_certification_keeps_the_scores_of_full_decoding_on_the_zoo(zoo):
    from mmmo.merge import Merger
    from mmmo.plan import MergePlan
    from mmmo.sources import ModelPool

    first, second = zoo.expert_tasks[:2]
    pool = ModelPool.load(zoo.base, {first: zoo.experts[first], second: zoo.experts[second]})
    merger = Merger(pool)
    fast = ExactMatch("em", zoo.tasks[first].test, merger.tokenizer, limit=64)
    full = ExactMatch("em", zoo.tasks[first].test, merger.tokenizer, limit=64, certify=False)
    certified_counts = []
    for plan in (
        MergePlan.uniform("task_arithmetic", [first, second], weight=[1.0, 0.0]),  # the expert
        MergePlan.uniform("task_arithmetic", [first, second], weight=[1.0, 0.5]),
        MergePlan.uniform("task_arithmetic", [first, second], weight=[1.0, 1.0]),
    ):
        merger.apply(plan)
        a, b = fast.evaluate(merger.model), full.evaluate(merger.model)
        assert a.ok and (a.value, a.stderr) == (b.value, b.stderr)
        certified_counts.append(int(fast.certified_rows(merger.model).sum()))
    # The expert's right rows are proved without decoding.
    assert certified_counts[0] > 32
