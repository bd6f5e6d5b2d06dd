"""Synthetic string tasks of the demo zoo and their deterministic data.

Every example is a prompt ``"<keyword> <input>="`` and an answer (the output
string). *Primitives* (copy, shift by one, the mirror alphabet, rotations, ...)
are what the base model is pretrained on, each under a few synonym keywords so
that the skill lives in the model's layers rather than in one keyword's
embedding. *Composite* tasks (shift by two, mirror then shift, ...) use
keywords the base never saw: the base fails them, and an expert fine-tuned on
one of them succeeds. Pretraining also contains noise prompts (an unknown
keyword and a random answer), which teach the base that an unknown keyword
carries no skill, so the base scores near zero on the composite tasks.

The default and tiny zoos use inputs of one fixed length and character-map
tasks: a small Llama model learns those in a few hundred steps, whereas tasks
that need position arithmetic on variable-length inputs (reverse, sort) take
far longer than the zoo's build budget. The other tasks stay available.

The vocabulary of the zoo tokenizer is :data:`VOCABULARY`: every keyword and
every input is written with it.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mmmo.errors import ConfigError

#: Characters a prompt or answer may contain (the zoo tokenizer's vocabulary).
VOCABULARY: str = string.ascii_lowercase + string.digits + " =_"
SEPARATOR = " "
PROMPT_END = "="


@dataclass(frozen=True)
class StringTask:
    """One string-to-string task.

    Attributes:
        name: Identifier, used as file and model name.
        keywords: Prompt keywords that ask for this task (synonyms; the first
            is used for test data).
        transform: ``(input, alphabet) -> output``.
    """

    name: str
    keywords: tuple[str, ...]
    transform: Callable[[str, str], str]


@dataclass(frozen=True)
class Example:
    """One prompt/answer pair (the answer as the model should continue the prompt)."""

    prompt: str
    answer: str

    def to_dict(self) -> dict[str, str]:
        return {"prompt": self.prompt, "answer": self.answer}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=True)


def _shift(text: str, alphabet: str, k: int) -> str:
    return "".join(alphabet[(alphabet.index(c) + k) % len(alphabet)] for c in text)


def _swap_pairs(text: str) -> str:
    chars = list(text)
    for i in range(0, len(chars) - 1, 2):
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


_PRIMITIVES = (
    StringTask("copy", ("copy", "echo", "same"), lambda s, a: s),
    StringTask("reverse", ("rev", "flip", "back"), lambda s, a: s[::-1]),
    StringTask("sort", ("sort", "order", "rank"), lambda s, a: "".join(sorted(s, key=a.index))),
    StringTask("next", ("next", "succ", "up"), lambda s, a: _shift(s, a, 1)),
    StringTask("prev", ("prev", "pred", "down"), lambda s, a: _shift(s, a, -1)),
    StringTask("rotate", ("rotl", "roll", "turn"), lambda s, a: s[1:] + s[:1]),
    StringTask("double", ("dbl", "twice", "pair"), lambda s, a: "".join(c + c for c in s)),
    StringTask("swap", ("swap", "trade", "cross"), lambda s, a: _swap_pairs(s)),
    StringTask("tail", ("tail", "rest", "drop"), lambda s, a: s[1:]),
    StringTask("evens", ("evens", "odds", "alt"), lambda s, a: s[::2]),
    StringTask("atbash", ("inv", "opp", "neg"), lambda s, a: "".join(a[-1 - a.index(c)] for c in s)),
    StringTask("skip3", ("hop", "leap", "skip"), lambda s, a: _shift(s, a, 3)),
    StringTask("rotate_right", ("rotr", "wrap", "cycle"), lambda s, a: s[-1:] + s[:-1]),
)

_COMPOSITES = (
    StringTask("sort_desc", ("desc",), lambda s, a: "".join(sorted(s, key=a.index, reverse=True))),
    StringTask("shift2", ("jump",), lambda s, a: _shift(s, a, 2)),
    StringTask("reverse_next", ("mirror",), lambda s, a: _shift(s[::-1], a, 1)),
    StringTask("rotate_prev", ("spin",), lambda s, a: _shift(s[1:] + s[:1], a, -1)),
    StringTask("swap_reverse", ("twist",), lambda s, a: _swap_pairs(s[::-1])),
    StringTask("double_next", ("stutter",), lambda s, a: "".join(c + c for c in _shift(s, a, 1))),
    StringTask("atbash_next", ("warp",), lambda s, a: _shift("".join(a[-1 - a.index(c)] for c in s), a, 1)),
    StringTask("rotate_next", ("shove",), lambda s, a: _shift(s[1:] + s[:1], a, 1)),
    StringTask("shift4", ("vault",), lambda s, a: _shift(s, a, 4)),
    StringTask("rotate2", ("tumble",), lambda s, a: s[2:] + s[:2]),
    StringTask("atbash_prev", ("bend",), lambda s, a: _shift("".join(a[-1 - a.index(c)] for c in s), a, -1)),
)

TASKS: dict[str, StringTask] = {t.name: t for t in _PRIMITIVES + _COMPOSITES}
PRIMITIVE_NAMES: tuple[str, ...] = tuple(t.name for t in _PRIMITIVES)
COMPOSITE_NAMES: tuple[str, ...] = tuple(t.name for t in _COMPOSITES)
_KNOWN_KEYWORDS = frozenset(k for t in TASKS.values() for k in t.keywords)


def get_task(name: str, field: str = "task") -> StringTask:
    """The task called ``name``; a :class:`ConfigError` naming ``field`` if unknown."""
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(
            f"ZooConfig.{field}: unknown task {name!r}; known tasks: {', '.join(TASKS)}"
        ) from None


def _random_input(rng: random.Random, alphabet: str, min_len: int, max_len: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(min_len, max_len)))


def make_examples(
    task: StringTask,
    count: int,
    rng: random.Random,
    alphabet: str,
    min_len: int,
    max_len: int,
    all_keywords: bool = True,
    exclude_inputs: frozenset[str] = frozenset(),
) -> list[Example]:
    """``count`` examples of ``task`` with inputs drawn from ``rng``.

    ``all_keywords`` cycles through the task's synonyms (pretraining);
    otherwise the first keyword is used. Inputs in ``exclude_inputs`` (the
    test split's) are skipped, so train and test never share an input.
    """
    examples = []
    while len(examples) < count:
        text = _random_input(rng, alphabet, min_len, max_len)
        if text in exclude_inputs:
            continue
        keyword = rng.choice(task.keywords) if all_keywords else task.keywords[0]
        examples.append(
            Example(f"{keyword}{SEPARATOR}{text}{PROMPT_END}", task.transform(text, alphabet))
        )
    return examples


def make_test_split(
    task: StringTask, count: int, seed: int, alphabet: str, min_len: int, max_len: int
) -> list[Example]:
    """The test split of ``task``: ``count`` distinct inputs, first keyword.

    Seeded by ``(seed, task name)`` alone, so the split of one task does not
    change when other tasks are added or removed.
    """
    rng = random.Random(f"{seed}:test:{task.name}")
    seen: set[str] = set()
    examples = []
    for _ in range(100 * count):
        if len(examples) == count:
            break
        text = _random_input(rng, alphabet, min_len, max_len)
        if text in seen:
            continue
        seen.add(text)
        examples.append(
            Example(f"{task.keywords[0]}{SEPARATOR}{text}{PROMPT_END}", task.transform(text, alphabet))
        )
    if len(examples) < count:
        raise ConfigError(
            f"ZooConfig.test_examples: only {len(examples)} distinct inputs found for "
            f"{task.name!r}; lengthen the strings or shrink test_examples"
        )
    return examples


def input_of(example: Example) -> str:
    """The input string of an example (between the keyword and the ``=``)."""
    return example.prompt.split(SEPARATOR, 1)[1][: -len(PROMPT_END)]


def make_noise(
    count: int, rng: random.Random, alphabet: str, min_len: int, max_len: int
) -> list[Example]:
    """Prompts with an unknown keyword and a random answer.

    They teach the base that a keyword it does not know maps to no skill, so
    it scores near zero on tasks it was not trained on.
    """
    examples = []
    while len(examples) < count:
        keyword = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 6)))
        if keyword in _KNOWN_KEYWORDS:
            continue
        text = _random_input(rng, alphabet, min_len, max_len)
        answer = _random_input(rng, alphabet, min_len, max_len)
        examples.append(Example(f"{keyword}{SEPARATOR}{text}{PROMPT_END}", answer))
    return examples


def write_jsonl(examples: Iterable[Example], path: Path) -> Path:
    """Write ``examples`` as ``{"prompt", "answer"}`` lines; return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for example in examples:
            f.write(example.to_json() + "\n")
    return path


def read_jsonl(path: Path) -> list[Example]:
    return [Example(**json.loads(line)) for line in Path(path).read_text().splitlines() if line]


def interleave(groups: Sequence[list[Example]], rng: random.Random) -> list[Example]:
    """All examples of ``groups`` in one shuffled list."""
    merged = [e for group in groups for e in group]
    rng.shuffle(merged)
    return merged
