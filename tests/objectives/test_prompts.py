"""Prompt formats and answer matching: chat templates, system prompts, few-shot
prefixes, stop strings, answer patterns and normalisation, on the test models,
on a BPE tokenizer with a chat template built here, and on the zoo."""

from __future__ import annotations

import re

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from mmmo.config import ObjectiveSpec
from mmmo.errors import ObjectiveError
from mmmo.objectives.build import build_objective
from mmmo.objectives.exact_match import ExactMatch
from mmmo.objectives.prompts import AnswerMatching, PromptFormat, default_stop
from tests.objectives.conftest import copy_examples, make_tiny_llama, write_jsonl
from tests.objectives.test_exact_match import CountingModel, reference_outputs

CHAT_TEMPLATE = (
    "<s>{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def make_chat_tokenizer() -> PreTrainedTokenizerFast:
    """A real byte-level BPE tokenizer, trained here on a few sentences, with a chat template."""
    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    specials = ["<pad>", "<s>", "</s>", "<unk>", "<|system|>", "<|user|>", "<|assistant|>"]
    corpus = ["Eric will be competing against Michael in the race.", "What is 6 times 7? #### 42",
              "Answer briefly.\nQ: 2+2?\nA: 4\n", "The answer is yes."] * 20
    core.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=300, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>",
        padding_side="left",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


@pytest.fixture(scope="module")
def chat_tokenizer() -> PreTrainedTokenizerFast:
    return make_chat_tokenizer()


# -- answer matching -------------------------------------------------------


def test_stop_strings_cut_a_right_answer_followed_by_more_text():
    matching = AnswerMatching.create(stop=["\n"])
    text = " Eric will be competing against Michael in the race.\n\nIn this scenario, ..."
    assert matching.prediction(text) == "Eric will be competing against Michael in the race."
    assert AnswerMatching().prediction(text) != matching.prediction(text)


def test_answer_pattern_extracts_gsm8k_answers():
    matching = AnswerMatching.create(stop=[], pattern=r"####\s*(-?[\d,]+)")
    assert matching.gold("6 times 7 is 42.\n#### 42") == "42"
    assert matching.prediction("Six sevens make 42.\n#### 42\nmore") == "42"
    assert matching.prediction("I think it is 42") is None  # no answer written: wrong
    assert AnswerMatching.create(pattern=r"answer is (\w+)").gold("plain") == "plain"  # unmatched gold kept whole


def test_normalisation_options():
    text = "  The  Answer, is: YES! "
    assert AnswerMatching.create(normalize=["strip"]).gold(text) == "The  Answer, is: YES!"
    assert AnswerMatching.create(normalize=["strip", "whitespace", "lower", "punctuation"]).gold(text) == "the answer is yes"
    assert AnswerMatching.create(normalize=[]).gold(text) == text


def test_bad_matching_settings_are_named():
    with pytest.raises(ObjectiveError, match="answer_pattern: '\\(' is not a valid regular expression"):
        AnswerMatching.create(pattern="(")
    with pytest.raises(ObjectiveError, match="answer_pattern: .* has 2 groups"):
        AnswerMatching.create(pattern="(a)(b)")
    with pytest.raises(ObjectiveError, match="normalize: unknown option"):
        AnswerMatching.create(normalize=["stem"])
    with pytest.raises(ObjectiveError, match="stop: a stop string must not be empty"):
        AnswerMatching.create(stop=[""])


def test_default_stop_is_a_newline_unless_answers_hold_one():
    assert default_stop(["a", "b c"]) == ("\n",)
    assert default_stop(["a", "line\nbreak"]) == ()


# -- exact match with stop strings, on the test model -------------------------


@pytest.fixture(scope="module")
def run_on_file(tmp_path_factory, tiny_llama, char_tokenizer):
    """Gold answers that are a prefix of the model's output; the character after
    the prefix (which the prefix does not hold) is the stop string."""
    rows, stops = [], []
    for row, out in zip(copy_examples(40, seed=7),
                        reference_outputs(tiny_llama, char_tokenizer, [r["prompt"] for r in copy_examples(40, seed=7)], 12),
                        strict=True):
        cut = next((k for k in range(1, len(out)) if out[k] not in out[:k]), None)
        if cut is not None and cut + 1 < len(out):
            rows.append({**row, "answer": out[:cut]})
            stops.append(out[cut])
    assert len(rows) >= 5
    return write_jsonl(tmp_path_factory.mktemp("stop") / "run_on.jsonl", rows), rows, stops


def test_a_right_answer_followed_by_more_text_counts_with_a_stop(run_on_file, tiny_llama, char_tokenizer, tmp_path):
    path, rows, stops = run_on_file
    for row, stop in zip(rows, stops, strict=True):
        single = write_jsonl(tmp_path / "one.jsonl", [row])
        with_stop = ExactMatch("em", single, char_tokenizer, max_new_tokens=12,
                               matching=AnswerMatching.create(stop=[stop]))
        eos_only = ExactMatch("em", single, char_tokenizer, max_new_tokens=12, matching=AnswerMatching.create(stop=[]))
        assert with_stop.evaluate(tiny_llama).value == 1.0
        assert eos_only.evaluate(tiny_llama).value == 0.0
        undecoded = ExactMatch("em", single, char_tokenizer, max_new_tokens=12, certify=False,
                               matching=AnswerMatching.create(stop=[stop]))
        assert undecoded.evaluate(tiny_llama).value == 1.0


def test_generation_ends_at_the_stop_string(run_on_file, tiny_llama, char_tokenizer, tmp_path):
    path, rows, stops = run_on_file
    row, stop = rows[0], stops[0]
    single = write_jsonl(tmp_path / "one.jsonl", [row])
    counting = CountingModel(tiny_llama)
    objective = ExactMatch("em", single, char_tokenizer, max_new_tokens=40, certify=False,
                           matching=AnswerMatching.create(stop=[stop]))
    assert objective.evaluate(counting).value == 1.0
    # The prefill, then one call per token up to and including the stop character.
    assert counting.calls == len(row["answer"]) + 1


def test_a_stop_inside_a_gold_answer_is_refused(tmp_path, char_tokenizer):
    path = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "ab=", "answer": "ab"}])
    with pytest.raises(ObjectiveError, match=r"stop string 'b' occurs in the gold answer 'ab'"):
        ExactMatch("em", path, char_tokenizer, matching=AnswerMatching.create(stop=["b"]))


def test_answer_pattern_through_the_config(tmp_path, tiny_llama, char_tokenizer):
    """``answer_pattern`` and ``normalize`` reach the objective: gold answers that
    wrap the model's output in other text are read back to it."""
    rows = copy_examples(12, seed=9)
    outputs = reference_outputs(tiny_llama, char_tokenizer, [r["prompt"] for r in rows], 9)
    for row, out in zip(rows, outputs, strict=True):
        row["answer"] = f"reasoning first\n#### {out.upper()}"
    path = write_jsonl(tmp_path / "gsm.jsonl", rows)
    spec = ObjectiveSpec(kind="exact_match", data=path, answer_pattern=r"(?:#### )?([^\n#]*)$",
                         normalize=["strip", "lower"], max_new_tokens=9)
    objective = build_objective(spec, char_tokenizer)
    assert objective.matching.stop == ()  # the gold answers hold newlines: EOS ends an answer
    assert objective.evaluate(tiny_llama).value == 1.0
    plain = build_objective(ObjectiveSpec(kind="exact_match", data=path, max_new_tokens=9), char_tokenizer)
    assert plain.evaluate(tiny_llama).value == 0.0


# -- prompt formats ----------------------------------------------------------


def test_chat_template_wraps_the_prompt_with_a_system_prompt(chat_tokenizer):
    fmt = PromptFormat(chat_template=True, system_prompt="Answer briefly.")
    text = fmt.text(chat_tokenizer, "What is 6 times 7?")
    assert text == "<s><|system|>Answer briefly.</s><|user|>What is 6 times 7?</s><|assistant|>"
    ids = fmt.ids(chat_tokenizer, "What is 6 times 7?")
    assert ids == chat_tokenizer(text, add_special_tokens=False).input_ids
    assert ids.count(chat_tokenizer.bos_token_id) == 1  # the template's BOS, none added on top
    assert chat_tokenizer.convert_tokens_to_ids("<|assistant|>") == ids[-1]


def test_fewshot_prefix_goes_inside_the_user_message(tmp_path, chat_tokenizer):
    shots = tmp_path / "shots.txt"
    shots.write_text("Q: 2+2?\nA: 4\n")
    fmt = PromptFormat.from_files(chat_template=True, fewshot=shots)
    assert fmt.text(chat_tokenizer, "Q: 3+3?\nA:") == "<s><|user|>Q: 2+2?\nA: 4\nQ: 3+3?\nA:</s><|assistant|>"
    with pytest.raises(ObjectiveError, match="fewshot: file not found"):
        PromptFormat.from_files(fewshot=tmp_path / "absent.txt")
    spec = ObjectiveSpec(kind="exact_match", data=shots, fewshot=tmp_path / "absent.txt", name="em")
    with pytest.raises(ObjectiveError, match=f"objective 'em': fewshot: file not found: {tmp_path / 'absent.txt'}"):
        build_objective(spec, chat_tokenizer)


def test_chat_exact_match_decodes_from_the_templated_prompt(tmp_path, chat_tokenizer):
    """Exact match with ``chat_template`` scores what the model generates after the
    template's generation prompt, as ``generate`` on the templated ids gives it."""
    model = make_tiny_llama(len(chat_tokenizer), seed=3)
    rows = [{"prompt": p, "answer": "x"} for p in ("What is 6 times 7?", "Who races Eric?", "Is it yes?")]
    fmt = PromptFormat(chat_template=True, system_prompt="Answer briefly.")
    for row in rows:
        ids = torch.tensor([fmt.ids(chat_tokenizer, row["prompt"])])
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=6, do_sample=False,
                             eos_token_id=chat_tokenizer.eos_token_id, pad_token_id=chat_tokenizer.pad_token_id)
        tokens = out[0, ids.shape[1]:].tolist()
        tokens = tokens[: tokens.index(chat_tokenizer.eos_token_id)] if chat_tokenizer.eos_token_id in tokens else tokens
        row["answer"] = chat_tokenizer.decode(tokens, skip_special_tokens=True).split("\n")[0].strip() or "none"
    path = write_jsonl(tmp_path / "chat.jsonl", rows)
    spec = ObjectiveSpec(kind="exact_match", data=path, chat_template=True, system_prompt="Answer briefly.",
                         max_new_tokens=6, stop=["\n"])
    assert build_objective(spec, chat_tokenizer).evaluate(model).value == 1.0
    raw = ObjectiveSpec(kind="exact_match", data=path, max_new_tokens=6, stop=["\n"])
    assert build_objective(raw, chat_tokenizer).evaluate(model).value < 1.0


def test_chat_template_for_teacher_forced_kinds(tmp_path, chat_tokenizer):
    path = write_jsonl(tmp_path / "qa.jsonl", [{"prompt": "Is it yes?", "answer": "yes"}])
    choices = write_jsonl(tmp_path / "mc.jsonl", [{"prompt": "Is it yes?", "choices": ["yes", "no"], "gold": 0}])
    model = make_tiny_llama(len(chat_tokenizer), seed=4)
    for kind, data in (("token_accuracy", path), ("answer_loglik", path), ("choice_accuracy", choices)):
        chat = build_objective(ObjectiveSpec(kind=kind, data=data, chat_template=True), chat_tokenizer)
        raw = build_objective(ObjectiveSpec(kind=kind, data=data), chat_tokenizer)
        assert chat.evaluate(model).ok and raw.evaluate(model).ok
        if kind == "answer_loglik":  # a different context gives a different log-likelihood
            assert chat.evaluate(model).value != raw.evaluate(model).value


def test_chat_template_needs_a_tokenizer_that_has_one(answers_file, char_tokenizer):
    spec = ObjectiveSpec(kind="exact_match", data=answers_file, chat_template=True, name="em")
    with pytest.raises(ObjectiveError, match="objective 'em': chat_template is true but the tokenizer .* has no chat template"):
        build_objective(spec, char_tokenizer)


def test_prompt_options_are_checked_in_the_config(answers_file):
    with pytest.raises(ValueError, match="system_prompt needs chat_template: true"):
        ObjectiveSpec(kind="exact_match", data=answers_file, system_prompt="Be brief.")
    with pytest.raises(ValueError, match="answer_pattern '\\[' is not a valid regular expression"):
        ObjectiveSpec(kind="exact_match", data=answers_file, answer_pattern="[")
    with pytest.raises(ValueError, match=re.escape("kind 'token_accuracy' does not use 'stop'")):
        ObjectiveSpec(kind="token_accuracy", data=answers_file, stop=["\n"])


# -- on the zoo ------------------------------------------------------------------


def test_fewshot_prefix_on_the_zoo(tiny_zoo, tmp_path):
    """A few-shot file is read once and put before every prompt: the same
    predictions as a data file whose prompts carry the prefix themselves."""
    import json

    from mmmo.sources.pool import _load_tokenizer
    from transformers import AutoModelForCausalLM

    task = tiny_zoo.expert_tasks[0]
    rows = [json.loads(line) for line in tiny_zoo.tasks[task].test.read_text().splitlines()[:8]]
    prefix = rows[0]["prompt"] + rows[0]["answer"] + " "
    shots = tmp_path / "shots.txt"
    shots.write_text(prefix)
    rest = write_jsonl(tmp_path / "rest.jsonl", rows[1:])
    prefixed = write_jsonl(tmp_path / "prefixed.jsonl", [{**r, "prompt": prefix + r["prompt"]} for r in rows[1:]])
    tokenizer = _load_tokenizer(tiny_zoo.base)
    model = AutoModelForCausalLM.from_pretrained(tiny_zoo.experts[task]).eval()
    with_file = build_objective(ObjectiveSpec(kind="exact_match", data=rest, fewshot=shots), tokenizer)
    by_hand = build_objective(ObjectiveSpec(kind="exact_match", data=prefixed), tokenizer)
    assert with_file.predict(model) == by_hand.predict(model)
    assert with_file.evaluate(model).value == by_hand.evaluate(model).value
    assert with_file.matching.stop == ("\n",)  # zoo answers hold no newline


def test_zoo_scores_are_unchanged_by_the_default_stop(tiny_zoo):
    """The zoo's experts end answers with EOS: the default newline stop changes no score."""
    from mmmo.sources.pool import _load_tokenizer
    from transformers import AutoModelForCausalLM

    task = tiny_zoo.expert_tasks[0]
    tokenizer = _load_tokenizer(tiny_zoo.base)
    model = AutoModelForCausalLM.from_pretrained(tiny_zoo.experts[task]).eval()
    data = tiny_zoo.tasks[task].test
    default = ExactMatch("em", data, tokenizer, limit=32)
    eos_only = ExactMatch("em", data, tokenizer, limit=32, matching=AnswerMatching.create(stop=[]))
    assert default.evaluate(model).value == eos_only.evaluate(model).value > 0.5
