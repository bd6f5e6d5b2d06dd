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
