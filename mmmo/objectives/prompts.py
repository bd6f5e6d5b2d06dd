"""How a prompt reaches the model, and how a generated answer is read back.

Real instruct models are trained on prompts wrapped in their chat template
and end an answer with a newline or a stop string rather than EOS; scored
raw, a right answer followed by more text counts as wrong. Two small records
fix that:

- :class:`PromptFormat`: an optional few-shot prefix, then the prompt, wrapped
  in the tokenizer's chat template (with an optional system prompt) when
  ``chat_template`` is set;
- :class:`AnswerMatching`: the generated text is cut at the first stop string,
  an answer is extracted by a regular expression (GSM8K's ``#### 42``), and
  prediction and gold are normalised the same way before they are compared.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mmmo.errors import ObjectiveError
from mmmo.objectives.tokens import prompt_ids

Normalization = Literal["strip", "lower", "punctuation", "whitespace"]
NORMALIZATIONS: tuple[str, ...] = ("strip", "lower", "punctuation", "whitespace")

_PUNCTUATION = str.maketrans("", "", string.punctuation)


@dataclass(frozen=True)
class PromptFormat:
    """What the model is shown for one prompt.

    Attributes:
        chat_template: Wrap the prompt as a user message in the tokenizer's
            chat template, with the generation prompt added.
        system_prompt: A system message before it (chat template only).
        prefix: Text put before every prompt (few-shot examples), inside the
            user message when the chat template is used.
    """

    chat_template: bool = False
    system_prompt: str | None = None
    prefix: str = ""

    @classmethod
    def from_files(
        cls,
        chat_template: bool = False,
        system_prompt: str | None = None,
        fewshot: str | Path | None = None,
        where: str = "fewshot",
    ) -> PromptFormat:
        """A format whose prefix is the text of the ``fewshot`` file (read now); errors start with ``where``."""
        prefix = ""
        if fewshot is not None:
            path = Path(fewshot)
            if not path.is_file():
                raise ObjectiveError(f"{where}: file not found: {path}")
            prefix = path.read_text(encoding="utf-8")
            if not prefix.strip():
                raise ObjectiveError(f"{where}: {path} is empty")
        return cls(chat_template=chat_template, system_prompt=system_prompt, prefix=prefix)

    def check(self, tokenizer: Any, where: str) -> None:
        """Refuse a chat format on a tokenizer without a chat template, naming ``where``."""
        if self.system_prompt is not None and not self.chat_template:
            raise ObjectiveError(f"{where}: system_prompt needs chat_template: true")
        if self.chat_template and not getattr(tokenizer, "chat_template", None):
            raise ObjectiveError(
                f"{where}: chat_template is true but the tokenizer "
                f"{getattr(tokenizer, 'name_or_path', '') or type(tokenizer).__name__} has no chat template"
            )

    def text(self, tokenizer: Any, prompt: str) -> str:
        """The prompt as the model sees it, before tokenization."""
        content = self.prefix + prompt
        if not self.chat_template:
            return content
        messages = [{"role": "user", "content": content}]
        if self.system_prompt is not None:
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def ids(self, tokenizer: Any, prompt: str) -> list[int]:
        """Token ids of the prompt as the model sees it.

        Without a chat template: the project convention (tokenizer's special
        tokens added). A chat template writes its own special tokens (BOS
        included where the model wants one), so none are added on top.
        """
        if not self.chat_template:
            return prompt_ids(tokenizer, self.text(tokenizer, prompt))
        ids = list(tokenizer(self.text(tokenizer, prompt), add_special_tokens=False).input_ids)
        if not ids:
            raise ObjectiveError(f"prompt {prompt!r} encodes to no tokens under the chat template")
        return ids


@dataclass(frozen=True)
class AnswerMatching:
    """How a generated text and a gold answer are compared.

    Attributes:
        stop: Strings that end a generated answer; the text is cut at the
            first one found (generation stops there too).
        pattern: A regular expression; the answer is its first match (group 1
            when it has a group), in the generated text and in the gold answer
            alike. A gold answer it does not match is kept whole; a generated
            text it does not match is wrong.
        normalize: Applied in this order to both sides: ``strip`` (outer
            whitespace), ``whitespace`` (runs of whitespace to one space),
            ``lower`` (case), ``punctuation`` (ASCII punctuation removed).
    """

    stop: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None
    normalize: tuple[str, ...] = ("strip",)

    def __post_init__(self) -> None:
        unknown = [n for n in self.normalize if n not in NORMALIZATIONS]
        if unknown:
            raise ObjectiveError(f"normalize: unknown option(s) {unknown}; choose from {list(NORMALIZATIONS)}")
        if any(not s for s in self.stop):
            raise ObjectiveError("stop: a stop string must not be empty")
        if self.pattern is not None and self.pattern.groups > 1:
            raise ObjectiveError(
                f"answer_pattern: {self.pattern.pattern!r} has {self.pattern.groups} groups; use at most one"
            )

    @classmethod
    def create(
        cls, stop: Sequence[str] = (), pattern: str | None = None, normalize: Sequence[str] = ("strip",)
    ) -> AnswerMatching:
        try:
            compiled = re.compile(pattern) if pattern is not None else None
        except re.error as exc:
            raise ObjectiveError(f"answer_pattern: {pattern!r} is not a valid regular expression: {exc}") from None
        return cls(stop=tuple(stop), pattern=compiled, normalize=tuple(normalize))

    def cut(self, text: str) -> str:
        """``text`` up to its first stop string."""
        for stop in self.stop:
            index = text.find(stop)
            if index >= 0:
                text = text[:index]
        return text

    def stopped(self, text: str) -> bool:
        """Whether ``text`` already holds a stop string (generation can end)."""
        return any(stop in text for stop in self.stop)

    def prediction(self, text: str) -> str | None:
        """The answer read from generated text; ``None`` when the pattern finds none."""
        text = self.cut(text)
        if self.pattern is not None:
            match = self.pattern.search(text)
            if match is None:
                return None
            text = match.group(1) if self.pattern.groups else match.group(0)
        return self._normalized(text)

    def gold(self, answer: str) -> str:
        """The gold answer as predictions are compared with it."""
        if self.pattern is not None:
            match = self.pattern.search(answer)
            if match is not None:
                answer = match.group(1) if self.pattern.groups else match.group(0)
        return self._normalized(answer)

    def _normalized(self, text: str) -> str:
        if "strip" in self.normalize:
            text = text.strip()
        if "whitespace" in self.normalize:
            text = " ".join(text.split())
        if "lower" in self.normalize:
            text = text.lower()
        if "punctuation" in self.normalize:
            text = text.translate(_PUNCTUATION)
        return text


def default_stop(answers: Sequence[str]) -> tuple[str, ...]:
    """What ends an answer in the data: a newline when no gold answer holds one, else nothing (EOS only)."""
    return () if any("\n" in answer for answer in answers) else ("\n",)
