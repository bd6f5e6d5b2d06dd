"""BIG-bench tasks read straight out of the ``bigbench`` source archive.

The ``bigbench`` package is never installed (that would pull in TensorFlow):
its sdist is a tar.gz holding every task's ``task.json``, read here with
:mod:`tarfile`. A task is named as its folder below ``benchmark_tasks``:
``object_counting``, or ``arithmetic/2_digit_addition`` for a subtask.

Only generative examples with one target string are used; an example whose
``target`` is a list takes the list's first entry, which BIG-bench uses for
the canonical answer (``object_counting``: ``["three", "3"]``). Each example
becomes a ``{"prompt", "answer"}`` pair in the project's convention: the
prompt ends with ``"A:"`` and the answer starts with a space, so the answer's
tokens are those the model would write after the prompt.

Every task file carries BIG-bench's canary string: the data stays in the
cache and is never copied into the project.
"""

from __future__ import annotations

import json
import random
import tarfile
from dataclasses import dataclass
from pathlib import Path

from mmmo.errors import ZooError
# Both zoos share one example type and JSONL format; re-exported here.
from mmmo.zoo.tasks import Example, write_jsonl  # noqa: F401

TASKS_FOLDER = "bigbench/benchmark_tasks"


@dataclass(frozen=True)
class TaskSplits:
    """A task's examples, split once and for all by the build's seed."""

    name: str
    train: tuple[Example, ...]
    test: tuple[Example, ...]


def read_tasks(sdist: str | Path, names: tuple[str, ...]) -> dict[str, tuple[Example, ...]]:
    """The examples of each task in ``names``, read in one pass over ``sdist``.

    Raises:
        ZooError: the archive is unreadable, a task is not in it, or a task
            has no example with a single target string.
    """
    sdist = Path(sdist)
    wanted = {f"{TASKS_FOLDER}/{name}/task.json": name for name in names}
    found: dict[str, tuple[Example, ...]] = {}
    try:
        with tarfile.open(sdist, "r:*") as archive:
            for member in archive:
                # Members are "<package>-<version>/bigbench/benchmark_tasks/...".
                inner = member.name.split("/", 1)[-1]
                name = wanted.get(inner)
                if name is None or not member.isfile():
                    continue
                handle = archive.extractfile(member)
                if handle is None:
                    continue
                found[name] = parse_task(json.load(handle), f"{sdist}:{member.name}")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ZooError(f"cannot read BIG-bench archive {sdist}: {error}") from error
    except json.JSONDecodeError as error:
        raise ZooError(f"a task.json in {sdist} is not valid JSON: {error}") from error
    missing = [name for name in names if name not in found]
    if missing:
        raise ZooError(
            f"BIG-bench archive {sdist} has no task {missing} "
            f"(a task is named by its folder under {TASKS_FOLDER}, e.g. 'arithmetic/2_digit_addition')"
        )
    return found


def parse_task(task: dict, where: str) -> tuple[Example, ...]:
    """The single-target examples of one parsed ``task.json``, in file order."""
    examples = task.get("examples") if isinstance(task, dict) else None
    if not isinstance(examples, list):
        raise ZooError(f"{where}: no 'examples' list (a task made of subtasks is named by its subtask)")
    prefix = task.get("example_input_prefix", "Q: ")
    suffix = task.get("example_output_prefix", "\nA: ")
    out = []
    for example in examples:
        target = example.get("target") if isinstance(example, dict) else None
        if isinstance(target, list):
            target = target[0] if target and all(isinstance(t, str) for t in target) else None
        text = example.get("input") if isinstance(example, dict) else None
        if not isinstance(target, str) or not isinstance(text, str) or not target.strip() or "\n" in target:
            continue  # multiple choice only, or an answer that is not one line
        # The prompt ends without a space: BPE tokenizers read " 42" as one word.
        prompt = f"{prefix}{text.strip()}{suffix}".rstrip(" ")
        out.append(Example(prompt, " " + target.strip()))
    if not out:
        raise ZooError(f"{where}: no example with a single one-line target string (multiple choice only?)")
    return tuple(out)


def split_task(
    name: str, examples: tuple[Example, ...], train_size: int, test_size: int, seed: int
) -> TaskSplits:
    """A shuffled, disjoint train/test split; duplicate prompts go to one side only.

    The test split gets ``test_size`` examples first (fewer only if the task
    is that small); the train split takes up to ``train_size`` of the rest.
    """
    unique = list({e.prompt: e for e in examples}.values())
    random.Random(f"{seed}:{name}").shuffle(unique)
    test = tuple(unique[:test_size])
    train = tuple(unique[test_size : test_size + train_size])
    if not test:
        raise ZooError(f"BIG-bench task {name!r} has no examples left for a test split")
    return TaskSplits(name, train, test)
