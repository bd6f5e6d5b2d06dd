import math

import pytest
import torch

from mmmo.pareto_merging.losses import language_modelling_loss, prediction_entropy, scalarize


def test_prediction_entropy_counts_only_the_predictions_of_marked_tokens():
    vocab = 5
    logits = torch.zeros(1, 4, vocab)  # uniform everywhere ...
    logits[0, 2, 0] = 100.0  # ... except a confident prediction of token 3
    # Token 3 is marked: its prediction comes from position 2 (confident).
    confident = prediction_entropy(logits, torch.tensor([[0, 0, 0, 1]]))
    assert confident.shape == (1,)
    assert confident.item() == pytest.approx(0.0, abs=1e-6)
    # Tokens 1 and 2 are predicted from uniform positions 0 and 1.
    uniform = prediction_entropy(logits, torch.tensor([[0, 1, 1, 0]]))
    assert uniform.item() == pytest.approx(math.log(vocab), rel=1e-5)


def test_language_modelling_loss_is_the_masked_cross_entropy():
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 7)
    ids = torch.randint(0, 7, (2, 6))
    mask = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 0, 0]])
    got = language_modelling_loss(logits, ids, mask)
    for row in range(2):
        positions = mask[row].nonzero().flatten()
        want = torch.nn.functional.cross_entropy(logits[row, positions - 1], ids[row, positions])
        assert got[row].item() == pytest.approx(want.item(), rel=1e-5)


def test_scalarizations():
    losses = torch.tensor([1.0, 2.0, 4.0])
    p = torch.tensor([0.5, 0.25, 0.25])
    assert scalarize(losses, p, "linear").item() == pytest.approx(0.5 + 0.5 + 1.0)
    assert scalarize(losses, p, "tchebycheff").item() == pytest.approx(1.0)
    ideal = torch.tensor([0.0, 0.0, 3.0])
    assert scalarize(losses, p, "tchebycheff", ideal=ideal).item() == pytest.approx(0.5)
    # Smooth Tchebycheff lies in [max, max + mu log K] and tends to max as mu -> 0.
    for mu in (1.0, 0.1, 0.01):
        smooth = scalarize(losses, p, "smooth_tchebycheff", mu=mu).item()
        assert 1.0 <= smooth <= 1.0 + mu * math.log(3) + 1e-6
    assert scalarize(losses, p, "smooth_tchebycheff", mu=1e-3).item() == pytest.approx(1.0, abs=1e-3)


def test_smooth_tchebycheff_gives_every_task_a_gradient():
    losses = torch.tensor([1.0, 2.0, 4.0], requires_grad=True)
    scalarize(losses, torch.tensor([0.5, 0.25, 0.25]), "smooth_tchebycheff", mu=0.5).backward()
    assert (losses.grad > 0).all()
    hard = torch.tensor([1.0, 2.0, 4.0], requires_grad=True)
    scalarize(hard, torch.tensor([0.5, 0.25, 0.25]), "tchebycheff").backward()
    assert (hard.grad > 0).sum() == 1
