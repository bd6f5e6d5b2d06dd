from __future__ import annotations

import copy

import pytest
import torch

from mmmo.errors import ObjectiveError
from mmmo.objectives.parameter_space import DeltaDensity, DeltaNorm


@pytest.fixture
def base_and_model(tiny_llama):
    """A copy of the model with known changes: +0.5 on 10 entries of one tensor."""
    base_state = {k: v.clone() for k, v in tiny_llama.state_dict().items()}
    model = copy.deepcopy(tiny_llama)
    with torch.no_grad():
        model.model.layers[0].mlp.up_proj.weight.view(-1)[:10] += 0.5
        model.lm_head.weight[0, :3] -= 2.0
    total = sum(v.numel() for v in base_state.values() if torch.is_floating_point(v))
    return base_state, model, total


@pytest.mark.parametrize("chunk_size", [7, 1 << 22])
def test_delta_norms_and_density(base_and_model, chunk_size):
    base_state, model, total = base_and_model
    l1 = DeltaNorm("l1", base_state, p=1, chunk_size=chunk_size).evaluate(model)
    l2 = DeltaNorm("l2", base_state, p=2, chunk_size=chunk_size).evaluate(model)
    density = DeltaDensity("d", base_state, chunk_size=chunk_size).evaluate(model)
    assert l1.value == pytest.approx(10 * 0.5 + 3 * 2.0, rel=1e-5)
    assert l2.value == pytest.approx((10 * 0.25 + 3 * 4.0) ** 0.5, rel=1e-5)
    assert density.value == pytest.approx(13 / total)
    assert all(m.ok and m.n == 0 for m in (l1, l2, density))
    assert DeltaDensity("d", base_state, atol=1.0).evaluate(model).value == pytest.approx(3 / total)


def test_base_model_has_zero_delta(tiny_llama):
    base_state = {k: v.clone() for k, v in tiny_llama.state_dict().items()}
    assert DeltaNorm("l1", base_state).evaluate(tiny_llama).value == 0.0
    assert DeltaDensity("d", base_state).evaluate(tiny_llama).value == 0.0
    assert DeltaNorm("l1", base_state).direction == "minimize"


def test_tied_tensor_counts_once(char_tokenizer):
    from tests.objectives.conftest import make_tiny_llama

    model = make_tiny_llama(len(char_tokenizer))
    model.config.tie_word_embeddings = True
    model.lm_head.weight = model.model.embed_tokens.weight  # one storage, two names
    base_state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.model.embed_tokens.weight[1, 0] += 1.0
    assert DeltaNorm("l1", base_state).evaluate(model).value == pytest.approx(1.0)


def test_needs_base_state_and_matching_tensors(tiny_llama):
    with pytest.raises(ObjectiveError, match="needs base_state"):
        DeltaNorm("l1", None)
    with pytest.raises(ObjectiveError, match="p must be 1 or 2"):
        DeltaNorm("l1", {"w": torch.zeros(2)}, p=3)
    missing = DeltaNorm("l1", {"not.a.tensor": torch.zeros(2)}).evaluate(tiny_llama)
    assert not missing.ok and "not.a.tensor" in missing.error
    wrong = {"lm_head.weight": torch.zeros(3, 3)}
    shaped = DeltaDensity("d", wrong).evaluate(tiny_llama)
    assert not shaped.ok and "lm_head.weight" in shaped.error and "shape" in shaped.error
