"""What a trial costs in examples scored, and the checks of a cost budget.

The count of an objective's examples is known from its config entry: the
rows of its data file, at most ``limit``. A trial at fidelity ``f`` scores
``ceil(f * N)`` of each objective's ``N`` (:func:`~mmmo.objectives.data.fidelity_count`);
a promotion only those beyond its parent's. Objectives without examples
cost nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mmmo.config import Budget, CampaignConfig
from mmmo.errors import ConfigError
from mmmo.objectives.data import fidelity_count, read_jsonl
from mmmo.trial import TrialRecord

__all__ = ["budget_spent", "check_budget", "counts_examples", "example_counts", "full_cost", "spent", "trial_cost"]


def example_counts(config: CampaignConfig) -> dict[str, int]:
    """Examples each objective scores at full fidelity (0 for objectives without examples).

    Raises:
        ConfigError: An objective over examples whose count cannot be known
            before it is built (an lm-eval task without ``limit``), naming it.
    """
    counts = {}
    for index, spec in enumerate(config.objectives):
        name = spec.resolved_name
        if spec.data is None and spec.task is None:
            counts[name] = 0  # parameter distances, a user's callable: no examples
        elif spec.data is not None and spec.data.suffix == ".jsonl":
            rows = len(read_jsonl(spec.data, {}))
            counts[name] = rows if spec.limit is None else min(rows, spec.limit)
        elif spec.data is not None:
            counts[name] = 1  # a text file is one document
        elif spec.limit is not None:
            counts[name] = spec.limit
        else:
            raise ConfigError(
                f"objectives.{index}.limit: objective {name!r} needs a limit to count its examples for a cost budget"
            )
    return counts


def trial_cost(counts: Mapping[str, int], fidelity: float | None, parent_fidelity: float | None = None) -> int:
    """Examples a trial at ``fidelity`` scores (None: full), beyond those of a parent at ``parent_fidelity``."""
    total = 0
    for count in counts.values():
        if count == 0:
            continue
        scored = fidelity_count(count, 1.0 if fidelity is None else fidelity)
        before = 0 if parent_fidelity is None else fidelity_count(count, parent_fidelity)
        total += max(0, scored - before)
    return total


def full_cost(counts: Mapping[str, int]) -> int:
    """Examples one full evaluation scores."""
    return trial_cost(counts, 1.0)


def spent(records: Sequence[TrialRecord], counts: Mapping[str, int]) -> tuple[float, float]:
    """``(examples, seconds)`` the searched trials have used, trials in flight counted at their planned cost.

    A finished trial counts its stored cost (or a full evaluation where none
    is stored: a campaign without fidelity), a pending or running one what
    its fidelity will score, so a run stops proposing before it overshoots.
    """
    by_id = {r.trial_id: r for r in records}
    examples, seconds = 0.0, 0.0
    for record in records:
        if not record.is_searched:
            continue
        seconds += (record.seconds_merge or 0.0) + (record.seconds_eval or 0.0)
        if record.finished and record.cost is not None:
            examples += record.cost
            continue
        parent = by_id.get((record.params or {}).get("promoted_from"))
        examples += trial_cost(counts, record.fidelity, parent.fidelity if parent is not None else None)
    return examples, seconds


def counts_examples(config: CampaignConfig) -> bool:
    """Whether a run needs the example counts (a cost budget in examples, or multi-fidelity search)."""
    return config.budget.examples is not None or config.fidelity is not None


def budget_spent(budget: Budget, records: Sequence[TrialRecord], counts: Mapping[str, int]) -> bool:
    """Whether the cost budget (examples or seconds) leaves nothing more to propose."""
    if budget.examples is None and budget.seconds is None:
        return False
    examples, seconds = spent(records, counts)
    return (budget.examples is not None and examples >= budget.examples) or (
        budget.seconds is not None and seconds >= budget.seconds
    )


def check_budget(config: CampaignConfig) -> None:
    """Refuse a cost budget that cannot pay for one full evaluation, naming the field."""
    if config.budget.examples is None:
        return
    one = full_cost(example_counts(config))
    if config.budget.examples < one:
        raise ConfigError(
            f"budget.examples: {config.budget.examples} is below one full evaluation ({one} examples over "
            f"the objectives); raise it to at least {one}"
        )
