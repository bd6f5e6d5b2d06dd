"""Generative exact match: greedy decoding with a KV cache, batched.

Tokenization follows the project convention: the prompt is
``tokenizer(prompt)`` (with the tokenizer's special tokens, e.g. BOS), or the
prompt as a :class:`~mmmo.objectives.prompts.PromptFormat` renders it (chat
template, system prompt, few-shot prefix); the gold continuation is
``answer`` then EOS. Generation is greedy and stops for a row at EOS or once
its text holds a stop string; a batch stops as soon as every row has
stopped, or after ``max_new_tokens`` (default: the longest gold answer in
tokens followed by what ends it, EOS or a stop string, since a longer output
cannot be a right answer followed by its end). The decoded output (special
tokens skipped) is cut at the first stop string, its answer extracted and
normalised by an :class:`~mmmo.objectives.prompts.AnswerMatching`, and
compared with the gold answer read the same way.

Stop strings default to what ends an answer in the data: a newline when no
gold answer contains one. Instruct models end a short answer with a newline
and go on writing; without the stop a right answer followed by more text
would count as wrong.

Greedy decoding makes most of that work unnecessary: a row's greedy output is
exactly its gold answer when, teacher-forced, the gold token is the argmax at
every answer position (EOS included). So each trial first scores all rows in
one teacher-forced pass and *certifies* those rows as correct; only the other
rows are decoded token by token. A certified row must win every step by a
margin (:data:`TIE_MARGIN`), so a near-tie, which the incremental KV-cache
path might break the other way, is always decoded for real. The score is the
same as decoding every row; ``certify=False`` decodes every row.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from transformers import DynamicCache

from mmmo.errors import ObjectiveError
from mmmo.objectives.base import Direction, Measurement
from mmmo.objectives.batches import PackedBatches, TokenBatch, model_device
from mmmo.objectives.data import read_answer_rows, subsample
from mmmo.objectives.guard import measure
from mmmo.objectives.prompts import AnswerMatching, PromptFormat, default_stop
from mmmo.objectives.stats import mean_and_stderr
from mmmo.objectives.teacher_forcing import continuation_logits, pack_continuations
from mmmo.objectives.tokens import answer_ids, pad_id_of, special_id

# Logit gap by which the gold token must beat every other token, per dtype,
# for a teacher-forced row to count as the greedy output.
TIE_MARGIN = {torch.float64: 1e-6, torch.float32: 1e-2, torch.bfloat16: 0.5, torch.float16: 0.25}


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
        self._batches = PackedBatches(self._prompts, self.pad_id, batch_size)
        golds = [answer_ids(tokenizer, answer) for _, answer in self.examples]
        self._gold_ids = golds
        # A row can be certified only if its gold tokens, read as a prediction, match its gold answer.
        self._certifiable = torch.tensor(
            [
                self._prediction(tokenizer.decode(ids[:-1], skip_special_tokens=True)) == gold
                for ids, gold in zip(golds, self._golds, strict=True)
            ],
            dtype=torch.bool,
        )
        self._gold_batches = (
            pack_continuations(self._prompts, golds, self.pad_id, batch_size) if certify else None
        )

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
        subset = rows is not None
        rows = list(range(len(self.examples))) if rows is None else list(rows)
        if self._gold_batches is None:
            undecided = list(range(len(rows)))
            correct = torch.zeros(len(rows))
        else:
            gold_batches = self._gold_batches if not subset else pack_continuations(
                [self._prompts[i] for i in rows], [self._gold_ids[i] for i in rows], self.pad_id, self._batch_size
            )
            certified = greedy_certified(model, gold_batches) & self._certifiable[rows]
            correct = certified.float()
            undecided = (~certified).nonzero().flatten().tolist()
        if undecided:
            prompts = PackedBatches([self._prompts[rows[j]] for j in undecided], self.pad_id, self._batch_size)
            for j, prediction in zip(undecided, self._decode(model, prompts), strict=True):
                correct[j] = float(self.matches(prediction, rows[j]))
        return correct

    def predict(self, model: Any) -> list[str]:
        """The decoded greedy continuation of every prompt, in data order."""
        return self._decode(model, self._batches)

    @torch.inference_mode()
    def _decode(self, model: Any, batches: PackedBatches) -> list[str]:
        """Greedy continuations of ``batches``' rows, in their row order."""
        outputs: list[str] = [""] * batches.num_rows
        stopped = self._stopped if self.matching.stop else None
        for batch in batches.on(model_device(model)):
            tokens = greedy_decode(model, batch, self.max_new_tokens, self.eos_id, self.pad_id, stopped).tolist()
            # Each row up to its EOS; the rest of the row is padding.
            tokens = [ids[: ids.index(self.eos_id)] if self.eos_id in ids else ids for ids in tokens]
            texts = self.tokenizer.batch_decode(tokens, skip_special_tokens=True)
            for row, text in zip(batch.rows.tolist(), texts, strict=True):
                outputs[row] = text
        return outputs

    def _stopped(self, generated: torch.Tensor, rows: torch.Tensor) -> list[bool]:
        """Whether each of ``rows`` of ``generated`` (``B x t`` ids so far) holds a stop string."""
        texts = self.tokenizer.batch_decode(generated[rows].tolist(), skip_special_tokens=True)
        return [self.matching.stopped(text) for text in texts]


@torch.inference_mode()
def greedy_certified(model: Any, batches: PackedBatches) -> torch.Tensor:
    """Rows whose scored continuation is the greedy output, by a clear margin.

    Args:
        batches: ``prompt + gold answer + EOS`` rows scoring the answer and EOS.

    Returns:
        ``N`` booleans, in the caller's row order: True where, at every scored
        position, the target token's logit beats all others by ``TIE_MARGIN``.
    """
    certified = torch.zeros(batches.num_rows, dtype=torch.bool)
    for batch in batches.on(model_device(model)):
        logits, targets, scored = continuation_logits(model, batch)
        margin = TIE_MARGIN.get(logits.dtype, 0.5)
        logits = logits.float()
        targets = targets[..., None]  # B x W x 1
        target_logit = logits.gather(-1, targets).squeeze(-1)
        runner_up = logits.scatter(-1, targets, float("-inf")).amax(-1)
        wins = (target_logit - runner_up > margin) | ~scored
        certified[batch.rows.cpu()] = wins.all(-1).cpu()
    return certified


def greedy_decode(
    model: Any,
    batch: TokenBatch,
    max_new_tokens: int,
    eos_id: int,
    pad_id: int,
    stopped: Callable[[torch.Tensor, torch.Tensor], list[bool]] | None = None,
) -> torch.Tensor:
    """Greedy continuation of a left-padded batch, using the model's KV cache.

    ``stopped(generated, rows)``, when given, says after each step which of
    the unfinished ``rows`` have ended otherwise than by EOS (a stop string
    in their text); those rows stop as if they had produced EOS.

    Returns:
        ``B x T`` generated ids (``T <= max_new_tokens``); after a row's EOS
        the row holds ``pad_id``.
    """
    batch_size, prompt_length = batch.input_ids.shape
    device = batch.input_ids.device
    padded = not bool(batch.attention_mask.all())
    # One mask for the whole run, sliced each step, instead of a cat per token.
    mask = torch.ones((batch_size, prompt_length + max_new_tokens), dtype=torch.long, device=device)
    mask[:, :prompt_length] = batch.attention_mask
    if _takes_boolean_4d_mask(model.config):
        # A ready mask (True = attend) skips transformers' mask construction at
        # every step, a large share of a step's cost on small models. The one
        # query of a step may see every unpadded key, so no causal part is needed.
        mask = mask.bool()[:, None, None, :]  # B x 1 x 1 x (P + T)
    generated = torch.full((batch_size, max_new_tokens), pad_id, dtype=torch.long, device=device)
    done = torch.zeros(batch_size, dtype=torch.bool, device=device)
    cache = DynamicCache(config=model.config)
    logits = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask if padded else None,
        position_ids=batch.position_ids,
        past_key_values=cache,
        use_cache=True,
        logits_to_keep=1,
    ).logits
    positions = batch.position_ids[:, -1:]
    for step in range(max_new_tokens):
        next_ids = logits[:, -1].argmax(dim=-1).masked_fill(done, pad_id)
        generated[:, step] = next_ids
        done |= next_ids == eos_id
        if stopped is not None:
            open_rows = (~done).nonzero().flatten()
            if len(open_rows):
                hits = torch.tensor(stopped(generated[:, : step + 1], open_rows), dtype=torch.bool, device=device)
                done[open_rows[hits]] = True
        # One host sync per token; it ends the batch as soon as every row is done.
        if step + 1 == max_new_tokens or bool(done.all()):
            break
        positions = positions + 1
        logits = model(
            input_ids=next_ids[:, None],
            attention_mask=mask[..., : prompt_length + step + 1] if padded else None,
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
        ).logits
    return generated[:, : step + 1]


def _takes_boolean_4d_mask(config: Any) -> bool:
    """Whether the model's attention reads a 4D boolean mask as given: SDPA
    attention with every layer attending to the full context (no sliding window)."""
    if getattr(config, "_attn_implementation", None) != "sdpa":
        return False
    if getattr(config, "sliding_window", None) is not None:
        return False
    layer_types = getattr(config, "layer_types", None) or ["full_attention"]
    return all(kind == "full_attention" for kind in layer_types)
