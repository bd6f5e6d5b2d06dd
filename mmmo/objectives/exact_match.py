"""Generative exact match: greedy decoding with a KV cache, batched.

Tokenization follows the project convention: the prompt is
``tokenizer(prompt)`` (with the tokenizer's special tokens, e.g. BOS), or the
prompt as a :class:`~mmmo.objectives.prompts.PromptFormat` renders it (chat
template, system prompt, few-shot prefix). Generation is greedy and stops
for a row at EOS or once its text holds a stop string; a stopped row leaves
the batch, and a batch stops as soon as every row has stopped, or after
``max_new_tokens`` (default: the longest gold answer in
tokens followed by what ends it, EOS or a stop string, since a longer output
cannot be a right answer followed by its end). The decoded output (special
tokens skipped) is cut at the first stop string, its answer extracted and
normalised by an :class:`~mmmo.objectives.prompts.AnswerMatching`, and
compared with the gold answer read the same way.

Stop strings default to what ends an answer in the data: a newline when no
gold answer contains one. Instruct models end a short answer with a newline
and go on writing; without the stop a right answer followed by more text
would count as wrong.

Greedy decoding makes most of that work unnecessary on a good model: a
row whose gold answer, followed by what ends it (EOS or a stop string), is
the greedy argmax at every position by a margin is right without decoding
(:mod:`~mmmo.objectives.certification`). Each batch's prompts go through the
model once; their KV cache serves the teacher-forced certification pass and
then the decoding of the rows it could not prove
(:mod:`~mmmo.objectives.generation`); the prompt prefix all rows of a batch
share runs once, and on a CPU batches are cut where they save padding
(:data:`BATCH_STEP_TOKENS`). On a model that gets few rows right
certification is pure cost, so a :class:`~mmmo.objectives.certification.CertificationPolicy`
turns it off while the recent certified share does not pay for it. The score
is the same as decoding every row; ``certify=False`` decodes every row.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from mmmo.errors import ObjectiveError
from mmmo.objectives.base import Direction, Measurement
from mmmo.objectives.batches import PackedBatches, TokenBatch, model_device
from mmmo.objectives.certification import (
    TIE_MARGIN,
    Certificate,
    CertificateBatch,
    CertificationPolicy,
    certificates,
    ending_pool,
)
from mmmo.objectives.data import read_answer_rows, subsample
from mmmo.objectives.generation import BatchOutput, decode_batch
from mmmo.objectives.guard import measure
from mmmo.objectives.prompts import AnswerMatching, PromptFormat, default_stop
from mmmo.objectives.stats import mean_and_stderr
from mmmo.objectives.tokens import answer_ids, pad_id_of, special_id

__all__ = ["TIE_MARGIN", "ExactMatch"]


#: What one more prompt batch costs on a CPU, in prompt tokens per decoding
#: step: a step reads every weight once whatever the rows, about the time of
#: 16 prompt tokens on one thread of a small model. There compute follows
#: tokens, so padding costs what it computes, and batches are cut where the
#: padding saved outweighs the steps added. On an accelerator a step costs
#: about the same for few rows as for many, so batches stay full
#: (``batch_size`` rows each).
BATCH_STEP_TOKENS = 16


class ExactMatch:
    """Fraction of prompts whose greedy continuation equals the gold answer.

    Args:
        name: Objective name.
        data: JSONL file with string fields ``prompt`` and ``answer``.
        tokenizer: The tokenizer the data is encoded with (once, here).
        limit: Score a deterministic subsample of this many examples.
        seed: Seed of the subsample.
        batch_size: Prompts decoded together.
        max_new_tokens: Generation cap; see the module docstring for the default.
        normalize: Applied to prediction and gold answer before comparing;
            overrides ``matching.normalize`` when given.
        prompt_format: How prompts are rendered (default: as written).
        matching: Stop strings, answer pattern and normalisation (default:
            the data's own stop, see :func:`~mmmo.objectives.prompts.default_stop`,
            and ``strip``).
        certify: Skip decoding of rows that teacher forcing proves correct
            (see the module docstring); same score, less work.
        policy: When to certify (default: a fresh
            :class:`~mmmo.objectives.certification.CertificationPolicy`).
    """

    direction: Direction = "maximize"

    def __init__(
        self,
        name: str,
        data: str | Path,
        tokenizer: Any,
        limit: int | None = None,
        seed: int = 0,
        batch_size: int = 64,
        max_new_tokens: int | None = None,
        normalize: Callable[[str], str] | None = None,
        prompt_format: PromptFormat | None = None,
        matching: AnswerMatching | None = None,
        certify: bool = True,
        policy: CertificationPolicy | None = None,
    ) -> None:
        if max_new_tokens is not None and max_new_tokens < 1:
            raise ObjectiveError(f"objective {name!r}: max_new_tokens must be positive, got {max_new_tokens}")
        self.name = name
        self.data = Path(data)
        rows = read_answer_rows(self.data)
        self.examples = subsample(rows, limit, seed)
        self.tokenizer = tokenizer
        answers = [answer for _, answer in self.examples]
        # The default stop looks at the whole file, so it does not change with the subset drawn.
        self.matching = matching or AnswerMatching(stop=default_stop([answer for _, answer in rows]))
        self._check_stops(answers)
        self.prompt_format = prompt_format or PromptFormat()
        self.prompt_format.check(tokenizer, f"objective {name!r}")
        self._normalize = normalize
        self.eos_id = special_id(tokenizer, "eos")
        self.pad_id = pad_id_of(tokenizer)
        # Room for the longest answer and what ends it: EOS, or a stop string (then no EOS is needed).
        self.max_new_tokens = max_new_tokens or max(
            max(
                [
                    len(answer_ids(tokenizer, answer)),
                    *(len(answer_ids(tokenizer, answer + stop)) - 1 for stop in self.matching.stop),
                ]
            )
            for answer in answers
        )
        self._golds = [self._gold(answer) for answer in answers]
        self._prompts = [self.prompt_format.ids(tokenizer, prompt) for prompt, _ in self.examples]
        self._batch_size = batch_size
        self._row_certificates = self._certificates() if certify else None
        self._policy = policy or CertificationPolicy()
        self._layouts: dict[
            tuple[torch.device, tuple[int, ...] | None], tuple[list[TokenBatch], list[CertificateBatch] | None]
        ] = {}

    def _certificates(self) -> list[list[Certificate]]:
        """Each row's certificates (see :mod:`~mmmo.objectives.certification`)."""
        pool = ending_pool(self.tokenizer, self.matching.stop)
        return [
            certificates(
                answer,
                self.tokenizer,
                self.matching.stop,
                self.eos_id,
                pool,
                lambda text, row=row: self.matches(text, row),
                self.max_new_tokens,
            )
            for row, (_, answer) in enumerate(self.examples)
        ]

    def batches(self, device: torch.device) -> list[TokenBatch]:
        """The prompt batches used on ``device`` (each prompt prefix shared by a batch's rows held once)."""
        return self._layout(device)[0]

    def _layout(
        self, device: torch.device, rows: tuple[int, ...] | None = None
    ) -> tuple[list[TokenBatch], list[CertificateBatch] | None]:
        """Prompt batches on ``device`` and their certificates, packed once per
        device and row subset (``rows``: indices into ``examples``, default all;
        a batch's ``rows`` are then positions in that subset)."""
        device = torch.device(device)
        key = (device, rows)
        if key not in self._layouts:
            selected = range(len(self.examples)) if rows is None else rows
            overhead = BATCH_STEP_TOKENS * self.max_new_tokens if device.type == "cpu" else None
            packed = PackedBatches(
                [self._prompts[r] for r in selected],
                self.pad_id,
                self._batch_size,
                batch_overhead=overhead,
                share_prefix=True,
            )
            proofs = None
            if self._row_certificates is not None:
                proofs = [
                    CertificateBatch.pack(
                        [self._row_certificates[selected[p]] for p in b.rows.tolist()], self.pad_id
                    ).to(device)
                    for b in packed.on(torch.device("cpu"))
                ]
            self._layouts[key] = (packed.on(device), proofs)
        return self._layouts[key]

    def __len__(self) -> int:
        return len(self.examples)

    def _check_stops(self, answers: list[str]) -> None:
        if self.matching.pattern is not None:
            return  # the answer is extracted; text around it may hold a stop
        for index, answer in enumerate(answers):
            for stop in self.matching.stop:
                if stop in answer:
                    raise ObjectiveError(
                        f"objective {self.name!r}: stop string {stop!r} occurs in the gold answer "
                        f"{answer!r} ({self.data}, example {index}); no generation could match it"
                    )

    def _prediction(self, text: str) -> str | None:
        if self._normalize is not None:
            return self._normalize(self.matching.cut(text))
        return self.matching.prediction(text)

    def _gold(self, answer: str) -> str:
        return self._normalize(answer) if self._normalize is not None else self.matching.gold(answer)

    def matches(self, text: str, row: int) -> bool:
        """Whether generated ``text`` is a right answer to example ``row``."""
        prediction = self._prediction(text)
        return prediction is not None and prediction == self._golds[row]

    def evaluate(self, model: Any, tokenizer: Any = None) -> Measurement:
        """Score ``model`` as its weights are now; decoding uses the tokenizer
        given at build time (the data was encoded with it)."""
        return measure(lambda: self._score(model))

    def _score(self, model: Any) -> tuple[float, float | None, int]:
        return mean_and_stderr(self.example_scores(model))

    def example_scores(self, model: Any, rows: list[int] | None = None) -> torch.Tensor:
        """1.0 or 0.0 per example of ``rows`` (indices into ``examples``, default all), in that order."""
        selected = None if rows is None else tuple(rows)
        count = len(self.examples) if selected is None else len(selected)
        certify = self._row_certificates is not None and self._policy.should_certify()
        correct = torch.zeros(count)
        certified_rows = decoded_rows = 0
        certify_seconds = decode_seconds = 0.0
        batches, proofs = self._layout(model_device(model), selected)
        for batch, proof in zip(batches, proofs if certify and proofs else [None] * len(batches), strict=True):
            output = self._run(model, batch, proof)
            positions = batch.rows.tolist()
            texts = self._texts(output.generated)
            for position, certified, text in zip(positions, output.certified.tolist(), texts, strict=True):
                row = position if selected is None else selected[position]
                correct[position] = 1.0 if certified else float(self.matches(text, row))
            certified_rows += int(output.certified.sum())
            decoded_rows += len(positions) - int(output.certified.sum())
            certify_seconds += output.certify_seconds
            decode_seconds += output.decode_seconds
        share = certified_rows / count if certify and count else None
        self._policy.record(share, certify_seconds, decode_seconds, decoded_rows, count)
        return correct

    def _run(self, model: Any, batch: TokenBatch, proof: CertificateBatch | None) -> BatchOutput:
        stopped = self._stopped if self.matching.stop else None
        return decode_batch(model, batch, self.max_new_tokens, self.eos_id, self.pad_id, stopped, proof)

    def _texts(self, generated: torch.Tensor) -> list[str]:
        """Decoded outputs of ``B x T`` generated ids: each row up to its EOS."""
        tokens = [ids[: ids.index(self.eos_id)] if self.eos_id in ids else ids for ids in generated.tolist()]
        return self.tokenizer.batch_decode(tokens, skip_special_tokens=True)

    def certified_rows(self, model: Any) -> torch.Tensor:
        """``N`` booleans in data order: the rows certification proves right on
        ``model`` as it is now (none when built with ``certify=False``)."""
        certified = torch.zeros(len(self.examples), dtype=torch.bool)
        batches, proofs = self._layout(model_device(model))
        if proofs is None:
            return certified
        for batch, proof in zip(batches, proofs, strict=True):
            certified[batch.rows.cpu()] = self._run(model, batch, proof).certified
        return certified

    def predict(self, model: Any) -> list[str]:
        """The decoded greedy continuation of every prompt, in data order."""
        outputs: list[str] = [""] * len(self.examples)
        for batch in self.batches(model_device(model)):
            texts = self._texts(self._run(model, batch, None).generated)
            for row, text in zip(batch.rows.tolist(), texts, strict=True):
                outputs[row] = text
        return outputs

    def _stopped(self, generated: list[list[int]]) -> list[bool]:
        """Whether each generated token list's text holds a stop string."""
        return [self.matching.stopped(text) for text in self.tokenizer.batch_decode(generated, skip_special_tokens=True)]
