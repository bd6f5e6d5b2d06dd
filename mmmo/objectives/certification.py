"""Proving a row's greedy output right without decoding it.

Greedy decoding is a function of the logits: a row's output is a given token
sequence exactly when, fed that sequence, the model puts its argmax on the
next token of the sequence at every step. So one teacher-forced pass over a
row's gold answer can prove the row right, and such a row need not be decoded.

What must be proved is the whole output, up to what ends it. An output ends
at EOS, or at the step whose decoded text first holds a stop string; a
*certificate* of a row is a token prefix ``X`` (what is generated before the
last step) and a set ``E`` of last tokens such that, for every ``v`` in ``E``,
decoding ``X + [v]`` ends exactly at ``v`` and reads as a right answer:

- ``X`` is the gold answer's own tokens, and ``E`` holds EOS and every
  vocabulary token whose text, appended, brings in a stop (``"\\n"``,
  ``"\\n\\n"``, ...), each checked by decoding ``X + [v]``;
- with BPE the stop may merge with the answer's last characters (``"9\\n"``
  is one token in some vocabularies), so ``answer + stop`` tokenized together
  gives a second prefix: its tokens before the one that completes the stop,
  with that token as the ending.

A row is certified when one of its certificates holds by a margin
(:data:`TIE_MARGIN`): at each position of ``X`` the gold token beats every
other token, and at the last position the best token of ``E`` beats every
token outside it. A near-tie, which the incremental KV-cache path might break
the other way, is always decoded for real.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

# Logit gap by which the gold token must beat every other token, per dtype,
# for a teacher-forced row to count as the greedy output.
TIE_MARGIN = {torch.float64: 1e-6, torch.float32: 1e-2, torch.bfloat16: 0.5, torch.float16: 0.25}

Decode = Callable[[list[list[int]]], list[str]]


@dataclass(frozen=True)
class Certificate:
    """A greedy output that reads as a right answer: ``prefix`` then any of
    ``endings``, or ``prefix`` alone when it fills the generation cap (``capped``)."""

    prefix: tuple[int, ...]
    endings: tuple[int, ...]
    capped: bool = False


def ending_pool(tokenizer: Any, stops: Sequence[str]) -> list[int]:
    """Ids of the vocabulary tokens whose own text holds a stop string (a superset
    of the tokens that can end an answer; each is checked in context later)."""
    if not stops:
        return []
    ids = [[i] for i in range(len(tokenizer))]
    backend = getattr(tokenizer, "backend_tokenizer", None)
    # The Rust decoder is ten times faster over a whole vocabulary; only a filter here.
    texts = backend.decode_batch(ids, skip_special_tokens=True) if backend is not None else None
    if texts is None:
        texts = tokenizer.batch_decode(ids, skip_special_tokens=True)
    return [i for i, text in enumerate(texts) if any(stop in text for stop in stops)]


def certificates(
    answer: str,
    tokenizer: Any,
    stops: Sequence[str],
    eos_id: int,
    pool: Sequence[int],
    reads_right: Callable[[str], bool],
    max_new_tokens: int,
) -> list[Certificate]:
    """The certificates of one row (none when its gold answer cannot be proved).

    Args:
        answer: The gold answer text.
        stops: Stop strings that end generation.
        pool: Candidate ending tokens (:func:`ending_pool`).
        reads_right: Whether a generated text is scored right for this row.
        max_new_tokens: The generation cap; a longer output is never produced.
    """
    decode = _decoder(tokenizer)
    answer_ids = list(tokenizer(answer, add_special_tokens=False).input_ids)
    prefixes: dict[tuple[int, ...], set[int]] = {tuple(answer_ids): {eos_id, *pool}}
    for stop in stops:
        ids = list(tokenizer(answer + stop, add_special_tokens=False).input_ids)
        texts = decode([ids[: i + 1] for i in range(len(ids))])
        end = next((i for i, text in enumerate(texts) if _holds(text, stops)), None)
        if end is not None:
            prefixes.setdefault(tuple(ids[:end]), set()).add(ids[end])
    found = []
    for prefix, candidates in prefixes.items():
        if len(prefix) < max_new_tokens:
            endings = _endings(list(prefix), sorted(candidates), decode, stops, eos_id, reads_right)
            if endings:
                found.append(Certificate(prefix, tuple(endings)))
        elif len(prefix) == max_new_tokens and _capped_right(list(prefix), decode, stops, reads_right):
            # Decoding stops at the cap, right after the prefix: no ending to prove.
            found.append(Certificate(prefix, (), capped=True))
    return found


def _capped_right(prefix: list[int], decode: Decode, stops: Sequence[str], reads_right: Callable[[str], bool]) -> bool:
    texts = decode([prefix[: i + 1] for i in range(len(prefix) - 1)] + [prefix])
    return not any(_holds(text, stops) for text in texts[:-1]) and reads_right(texts[-1])


def _endings(
    prefix: list[int],
    candidates: list[int],
    decode: Decode,
    stops: Sequence[str],
    eos_id: int,
    reads_right: Callable[[str], bool],
) -> list[int]:
    """The candidates that end generation right after ``prefix`` with a right answer."""
    # Generation checks for a stop after every token: a prefix that already holds one ends earlier.
    if any(_holds(text, stops) for text in decode([prefix[: i + 1] for i in range(len(prefix))])):
        return []
    others = [v for v in candidates if v != eos_id]
    texts = decode([prefix + [v] for v in others])
    endings = [v for v, text in zip(others, texts, strict=True) if _holds(text, stops) and reads_right(text)]
    if eos_id in candidates and reads_right(decode([prefix])[0]):
        endings.append(eos_id)
    return endings


def _holds(text: str, stops: Sequence[str]) -> bool:
    return any(stop in text for stop in stops)


def _decoder(tokenizer: Any) -> Decode:
    # The same call the decoding path reads its output with.
    return lambda ids: tokenizer.batch_decode(ids, skip_special_tokens=True) if ids else []


@dataclass(frozen=True)
class CertificateBatch:
    """The certificates of one prompt batch, one row per certificate.

    Attributes:
        rows: ``C`` index, in the prompt batch, of the row each certificate is for,
            ascending; every batch row has at least one (an empty one when it has
            none: no endings, never holds).
        first: ``B`` index of each batch row's first certificate.
        prefix: ``C x W`` prefix tokens, right-padded with ``pad_id``.
        lengths: ``C`` prefix lengths.
        endings: ``C x K`` ending tokens, padded with -1.
        capped: ``C`` certificates whose prefix fills the generation cap (no ending).
    """

    rows: Tensor
    first: Tensor
    prefix: Tensor
    lengths: Tensor
    endings: Tensor
    capped: Tensor

    @classmethod
    def pack(cls, per_row: Sequence[Sequence[Certificate]], pad_id: int) -> CertificateBatch:
        rows, first, flat = [], [], []
        for row, certs in enumerate(per_row):
            first.append(len(flat))
            for cert in certs or [Certificate((), ())]:
                rows.append(row)
                flat.append(cert)
        width = max(len(c.prefix) for c in flat)
        depth = max(1, max(len(c.endings) for c in flat))
        prefix = torch.full((len(flat), width), pad_id, dtype=torch.long)
        endings = torch.full((len(flat), depth), -1, dtype=torch.long)
        for i, cert in enumerate(flat):
            prefix[i, : len(cert.prefix)] = torch.as_tensor(cert.prefix, dtype=torch.long)
            endings[i, : len(cert.endings)] = torch.as_tensor(cert.endings, dtype=torch.long)
        return cls(
            rows=torch.as_tensor(rows, dtype=torch.long),
            first=torch.as_tensor(first, dtype=torch.long),
            prefix=prefix,
            lengths=torch.as_tensor([len(c.prefix) for c in flat], dtype=torch.long),
            endings=endings,
            capped=torch.as_tensor([c.capped for c in flat], dtype=torch.bool),
        )

    def subset(self, index: Tensor) -> CertificateBatch:
        """The certificates at ``index`` (``first`` is kept as is: it indexes the whole batch)."""
        return CertificateBatch(
            self.rows[index], self.first, self.prefix[index], self.lengths[index], self.endings[index], self.capped[index]
        )

    def to(self, device: torch.device) -> CertificateBatch:
        return CertificateBatch(
            *(t.to(device) for t in (self.rows, self.first, self.prefix, self.lengths, self.endings, self.capped))
        )


def first_step_holds(first: Tensor, batch: CertificateBatch) -> Tensor:
    """Which certificates the first generated token, already known from the
    prompt pass, leaves possible: a cheap filter before the teacher-forced pass.

    Args:
        first: ``C x V`` logits of each certificate's row at its first step.

    Returns:
        ``C`` booleans: the first prefix token (or, for an empty prefix, an
        ending) wins by the margin.
    """
    margin = TIE_MARGIN.get(first.dtype, 0.5)
    logits = first.float()
    count, vocab = logits.shape
    has_prefix = batch.lengths > 0
    target = batch.prefix[:, 0] if batch.prefix.shape[1] else torch.zeros_like(batch.lengths)
    # What step one must produce: the prefix's first token, or any ending when the prefix is empty.
    wanted = torch.cat([target.masked_fill(~has_prefix, vocab)[:, None], batch.endings], dim=1)
    wanted[:, 1:] = wanted[:, 1:].masked_fill(has_prefix[:, None] | (batch.endings < 0), vocab)
    allowed = torch.zeros((count, vocab + 1), dtype=torch.bool, device=logits.device)
    allowed.scatter_(1, wanted, True)
    allowed = allowed[:, :vocab]
    best = logits.masked_fill(~allowed, float("-inf")).amax(-1)
    other = logits.masked_fill(allowed, float("-inf")).amax(-1)
    return best - other > margin


def certificates_hold(logits: Tensor, batch: CertificateBatch) -> Tensor:
    """Which certificates the model's teacher-forced predictions prove.

    Args:
        logits: ``C x (W + 1) x V``; position ``i`` predicts prefix token ``i``,
            position ``lengths[c]`` the ending.

    Returns:
        ``C`` booleans.
    """
    margin = TIE_MARGIN.get(logits.dtype, 0.5)
    logits = logits.float()
    count, width = batch.prefix.shape
    holds = (batch.endings >= 0).any(-1) | batch.capped
    if width:
        predicted = logits[:, :width]  # C x W x V
        targets = batch.prefix[..., None]  # C x W x 1
        gold = predicted.gather(-1, targets).squeeze(-1)
        runner_up = predicted.scatter(-1, targets, float("-inf")).amax(-1)
        padding = torch.arange(width, device=logits.device)[None, :] >= batch.lengths[:, None]
        holds &= ((gold - runner_up > margin) | padding).all(-1)
    last = logits[torch.arange(count, device=logits.device), batch.lengths]  # C x V
    vocab = last.shape[-1]
    # -1 pads point at an extra column that is dropped.
    allowed = torch.zeros((count, vocab + 1), dtype=torch.bool, device=logits.device)
    allowed.scatter_(1, batch.endings.masked_fill(batch.endings < 0, vocab), True)
    allowed = allowed[:, :vocab]
    best_ending = last.masked_fill(~allowed, float("-inf")).amax(-1)
    best_other = last.masked_fill(allowed, float("-inf")).amax(-1)
    return holds & ((best_ending - best_other > margin) | batch.capped)


class CertificationPolicy:
    """Whether the next evaluation should try to certify rows, from what it cost before.

    Certification costs one teacher-forced pass over every row's certificate
    (the prompt's KV cache is shared with decoding, so only the answer tokens
    are new), and saves decoding the rows it proves. On a model that gets few
    rows right (a poor merge) it is pure cost. The rule: certify while the
    expected saving, the certified share of the last ``window`` certifying
    evaluations times the measured decoding time of that many rows, exceeds the
    measured time of the pass; once it does not, decode every row, and certify
    again every ``probe_every``-th evaluation to notice a model that has
    become good. Both costs are measured in the evaluations themselves, so the
    rule holds on any device. Results never depend on it, only speed does.
    """

    def __init__(self, window: int = 3, probe_every: int = 4) -> None:
        self.window = window
        self.probe_every = probe_every
        self._shares: list[float] = []
        self._certify_seconds: list[float] = []
        self._decode_seconds_per_row: list[float] = []
        self._skipped = 0

    def should_certify(self) -> bool:
        if not self._shares or not self._decode_seconds_per_row:
            return True
        if self._skipped + 1 >= self.probe_every:
            return True
        return self.expected_saving() > _mean(self._certify_seconds)

    def expected_saving(self) -> float:
        """Seconds the next certification is expected to save, per row of the objective."""
        return _mean(self._shares) * _mean(self._decode_seconds_per_row)

    def record(
        self, certified_share: float | None, certify_seconds: float, decode_seconds: float, decoded_rows: int, rows: int
    ) -> None:
        """One evaluation's figures; ``certified_share`` is ``None`` when it did not certify.
        ``certify_seconds`` is per row of the objective, as is the saving."""
        if certified_share is None:
            self._skipped += 1
        else:
            self._skipped = 0
            self._shares = (self._shares + [certified_share])[-self.window :]
            self._certify_seconds = (self._certify_seconds + [certify_seconds / max(rows, 1)])[-self.window :]
        if decoded_rows:
            self._decode_seconds_per_row = (self._decode_seconds_per_row + [decode_seconds / decoded_rows])[
                -self.window :
            ]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0
