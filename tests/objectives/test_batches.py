from __future__ import annotations

import itertools

import torch

from mmmo.objectives.batches import PackedBatches, _padding_cuts
from mmmo.objectives.exact_match import ExactMatch
from mmmo.objectives.prompts import PromptFormat
from tests.objectives.conftest import copy_examples, make_bpe_tokenizer, make_newline_llama, write_jsonl

CPU = torch.device("cpu")


def test_fixed_chunks_by_default_sorted_longest_first():
    sequences = [[1] * n for n in (3, 9, 5, 7, 1)]
    batches = PackedBatches(sequences, 0, 2).on(CPU)
    assert [b.rows.tolist() for b in batches] == [[1, 3], [2, 0], [4]]
    assert all(len(b.shared) == 0 for b in batches)


def brute_force_cost(lengths, batch_size, overhead):
    """Least padded tokens + overhead over every way of cutting ``lengths`` (descending)."""
    n, best = len(lengths), float("inf")
    for mask in itertools.product([False, True], repeat=n - 1):
        starts = [0] + [i + 1 for i, cut in enumerate(mask) if cut] + [n]
        runs = list(zip(starts, starts[1:]))
        if any(end - start > batch_size for start, end in runs):
            continue
        best = min(best, sum((end - start) * lengths[start] + overhead for start, end in runs))
    return best


def test_padding_cuts_are_the_cheapest_cuts():
    lengths = [40, 39, 38, 30, 12, 11, 11, 10, 3]
    for batch_size, overhead in ((4, 5), (9, 5), (9, 100), (3, 0)):
        runs = _padding_cuts(list(range(len(lengths))), lengths, batch_size, overhead)
        assert [i for run in runs for i in run] == list(range(len(lengths)))
        assert all(len(run) <= batch_size for run in runs)
        cost = sum(len(run) * lengths[run[0]] + overhead for run in runs)
        assert cost == brute_force_cost(lengths, batch_size, overhead)


def test_shared_prefix_is_held_once_and_rows_keep_a_token():
    sequences = [[5, 6, 7, 8], [5, 6, 7], [5, 6, 9, 9, 9]]
    (batch,) = PackedBatches(sequences, 0, 3, share_prefix=True).on(CPU)
    assert batch.shared.tolist() == [5, 6]
    assert batch.rows.tolist() == [2, 0, 1]
    assert batch.input_ids.tolist() == [[9, 9, 9], [0, 7, 8], [0, 0, 7]]
    # Positions continue after the shared prefix.
    assert batch.position_ids[0].tolist() == [2, 3, 4]
    assert batch.prompt_mask().tolist() == [[1, 1, 1, 1, 1], [1, 1, 0, 1, 1], [1, 1, 0, 0, 1]]
    (same,) = PackedBatches([[5, 6], [5, 6]], 0, 2, share_prefix=True).on(CPU)
    assert same.shared.tolist() == [5] and same.input_ids.tolist() == [[6], [6]]


def test_a_long_shared_prefix_decodes_as_generate_does(tmp_path):
    """A few-shot prefix shared by every prompt runs once; outputs are unchanged."""
    tokenizer = make_bpe_tokenizer()
    model = make_newline_llama(tokenizer)
    rows = copy_examples(12, seed=5)
    path = write_jsonl(tmp_path / "rows.jsonl", rows)
    form = PromptFormat(prefix="abc=abc\nhe=he\n")
    objective = ExactMatch("em", path, tokenizer, max_new_tokens=8, prompt_format=form, certify=False)
    batches = objective.batches(CPU)
    assert all(len(b.shared) > 10 for b in batches if len(b.rows) > 1)
    expected = []
    for row in rows:
        encoded = tokenizer(form.text(tokenizer, row["prompt"]), return_tensors="pt")
        out = model.generate(
            **encoded,
            max_new_tokens=8,
            do_sample=False,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            stop_strings=["\n"],
            tokenizer=tokenizer,
        )[0, encoded.input_ids.shape[1] :]
        expected.append(tokenizer.decode(out, skip_special_tokens=True))
    assert objective.predict(model) == expected


def test_batches_are_cut_for_padding_on_the_cpu_and_kept_full_elsewhere(tmp_path):
    tokenizer = make_bpe_tokenizer()
    rows = [{"prompt": "ab" * k + "=", "answer": "a"} for k in range(1, 41)]  # 3 to 81 tokens
    path = write_jsonl(tmp_path / "rows.jsonl", rows)
    objective = ExactMatch("em", path, tokenizer, batch_size=40)
    on_cpu = objective.batches(CPU)
    elsewhere = objective.batches(torch.device("meta"))  # stands for an accelerator: no compute needed
    assert len(elsewhere) == 1 and len(on_cpu) > 1
    padded = sum(b.input_ids.numel() for b in on_cpu)
    assert padded < elsewhere[0].input_ids.numel()
    assert sorted(r for b in on_cpu for r in b.rows.tolist()) == list(range(40))
