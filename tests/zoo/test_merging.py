"""The tiny zoo's experts merge: task arithmetic carries skills, and conflicts.

These are the properties a merge search on the zoo relies on: a merge of two
experts keeps much of both skills (graded by token accuracy), while all
experts at weight 1 do not reach every expert's own accuracy (a trade-off to
search).
"""

from __future__ import annotations

import pytest

from mmmo.merge import Merger
from mmmo.objectives import ExactMatch, TokenAccuracy
from mmmo.plan import MergePlan
from mmmo.sources import ModelPool


@pytest.fixture(scope="module")
def merger(tiny_zoo):
    pool = ModelPool.load(tiny_zoo.base, {t: tiny_zoo.experts[t] for t in tiny_zoo.expert_tasks})
    return Merger(pool)


def _score(objective_class, zoo, merger, task):
    objective = objective_class(task, zoo.tasks[task].test, merger.tokenizer)
    measurement = objective.evaluate(merger.model, merger.tokenizer)
    assert measurement.ok, measurement.error
    return measurement.value


def test_sources_in_the_merger_score_as_in_the_manifest(tiny_zoo, merger):
    task = tiny_zoo.expert_tasks[0]
    merger.apply_source(task)
    assert _score(ExactMatch, tiny_zoo, merger, task) == pytest.approx(tiny_zoo.scores()[task][task])
    merger.apply_base()
    assert _score(ExactMatch, tiny_zoo, merger, task) == pytest.approx(tiny_zoo.scores()["base"][task])


def test_two_experts_merged_keep_both_skills_above_the_base(tiny_zoo, merger):
    # The search needs such a merge somewhere in the space, not at one fixed
    # weight: which weight is best depends on the zoo's trained bits, and those
    # differ between CPUs. So the best of a few uniform weights is held to it.
    a, b = tiny_zoo.expert_tasks[:2]
    base = tiny_zoo.scores("token_accuracy")["base"]
    margins = {}
    for weight in (0.5, 0.75, 1.0):
        merger.apply(MergePlan.uniform("task_arithmetic", (a, b), weight))
        margins[weight] = min(_score(TokenAccuracy, tiny_zoo, merger, t) - base[t] for t in (a, b))
    assert max(margins.values()) >= 0.15, f"smallest gain over the base per weight: {margins}"


def test_all_experts_at_weight_one_do_not_reach_every_expert(tiny_zoo, merger):
    experts = tiny_zoo.expert_tasks
    merger.apply(MergePlan.uniform("task_arithmetic", experts, 1.0))
    own = tiny_zoo.scores()
    shortfalls = [own[t][t] - _score(ExactMatch, tiny_zoo, merger, t) for t in experts]
    assert max(shortfalls) >= 0.3, shortfalls
