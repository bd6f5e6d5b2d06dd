import pytest
import torch

from mmmo.errors import ConfigError
from mmmo.pareto_merging.data import TaskExamples
from mmmo.pareto_merging.merged import ParetoMergedModel
from mmmo.pareto_merging.train import TrainingOptions, evaluate_losses, train

TARGETS = ("*.mlp.down_proj.weight", "*.mlp.up_proj.weight", "*.self_attn.o_proj.weight")


@pytest.mark.parametrize("scalarization", ["linear", "smooth_tchebycheff"])
def test_training_moves_each_task_loss_in_the_preferred_direction(
    tiny_llama, conflicting_tasks, scalarization
):
    start = {n: p.detach().clone() for n, p in tiny_llama.named_parameters()}
    pm = ParetoMergedModel(tiny_llama, ["a", "b"], TARGETS, rank=2, seed=0)
    options = TrainingOptions(steps=80, batch_size=16, learning_rate=3e-2, scalarization=scalarization)
    result = train(pm, conflicting_tasks, options, pad_id=0)

    assert result.steps == 80 and len(result.history) == 80
    assert sum(result.history[-10:]) < 0.9 * sum(result.history[:10])
    favour_a = evaluate_losses(pm, conflicting_tasks, torch.tensor([0.9, 0.1]), pad_id=0)
    favour_b = evaluate_losses(pm, conflicting_tasks, torch.tensor([0.1, 0.9]), pad_id=0)
    initial = torch.tensor([result.initial_losses["a"], result.initial_losses["b"]])
    # Each task is learned best where the preference favours it ...
    assert favour_a[0] < favour_b[0] - 0.1
    assert favour_b[1] < favour_a[1] - 0.1
    # ... and better than the starting merge there.
    assert favour_a[0] < initial[0] and favour_b[1] < initial[1]
    # Training never writes the live model and leaves its trainable flags as they were.
    for name, param in tiny_llama.named_parameters():
        assert torch.equal(param, start[name]), name
        assert param.requires_grad


def test_training_is_seeded(tiny_llama, conflicting_tasks):
    runs = []
    for _ in range(2):
        pm = ParetoMergedModel(tiny_llama, ["a", "b"], TARGETS, rank=2, seed=0)
        runs.append(train(pm, conflicting_tasks, TrainingOptions(steps=5, seed=4), pad_id=0).history)
    assert runs[0] == runs[1]


def test_training_refuses_tasks_that_do_not_match_the_preference(tiny_llama, conflicting_tasks):
    pm = ParetoMergedModel(tiny_llama, ["b", "a"], TARGETS, rank=2)
    with pytest.raises(ConfigError, match=r"\['a', 'b'\] do not match the model's tasks \['b', 'a'\]"):
        train(pm, conflicting_tasks, TrainingOptions(steps=1), pad_id=0)
    pm = ParetoMergedModel(tiny_llama, ["a", "b"], TARGETS, rank=2)
    empty = TaskExamples("b", "lm", (), ())
    with pytest.raises(ConfigError, match="task 'b' has no examples"):
        train(pm, [conflicting_tasks[0], empty], TrainingOptions(steps=1), pad_id=0)


def test_entropy_tasks_are_trained_on_prediction_entropy(tiny_llama, conflicting_tasks):
    unlabelled = [
        TaskExamples(t.name, "entropy", t.sequences, t.prompt_lengths) for t in conflicting_tasks
    ]
    pm = ParetoMergedModel(tiny_llama, ["a", "b"], TARGETS, rank=2, seed=0)
    uniform = torch.tensor([0.5, 0.5])
    before_entropy = evaluate_losses(pm, unlabelled, uniform, pad_id=0)
    before_nll = evaluate_losses(pm, conflicting_tasks, uniform, pad_id=0)
    result = train(pm, unlabelled, TrainingOptions(steps=30, learning_rate=3e-2), pad_id=0)
    assert result.initial_losses == pytest.approx(dict(zip("ab", before_entropy.tolist())))
    after_entropy = evaluate_losses(pm, unlabelled, uniform, pad_id=0)
    after_nll = evaluate_losses(pm, conflicting_tasks, uniform, pad_id=0)
    assert (after_entropy < 0.8 * before_entropy).all()
    # Entropy needs no labels: what it optimises is not the likelihood of the targets.
    assert not torch.allclose(after_entropy, after_nll, rtol=0.05)
    assert not torch.allclose(before_entropy, before_nll, rtol=0.05)
