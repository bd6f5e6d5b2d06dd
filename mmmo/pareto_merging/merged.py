"""A live merged model whose chosen weights are a function of a preference.

:class:`ParetoMergedModel` wraps the one live model of a
:class:`mmmo.merge.Merger` after the starting merge was applied. It keeps a
frozen copy of the merged matrices it corrects, a
:class:`~mmmo.pareto_merging.model.PreferenceLowRank` correction and, when
given the sources' task vectors, a
:class:`~mmmo.pareto_merging.model.PreferenceTaskScaling`. During
training the live model is never written: :meth:`logits` runs it through
:func:`torch.func.functional_call` with the corrected weights substituted, so
gradients reach only the correction. :meth:`model_for` writes the weights of
one preference into the live model, in place, for evaluation or export.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from mmmo.errors import ConfigError
from mmmo.pareto_merging.model import PreferenceLowRank, PreferenceTaskScaling
from mmmo.pareto_merging.preference import PreferenceLike, check_preference
from mmmo.plan import MergePlan

# The MLP projections: the largest matrices of a Llama decoder layer, where a
# rank-r correction costs the fewest extra parameters per corrected weight.
DEFAULT_TARGETS: tuple[str, ...] = ("*.mlp.down_proj.weight", "*.mlp.up_proj.weight")
CORRECTION_FILE = "pareto_correction.safetensors"
METADATA_FILE = "pareto_merging.json"


def select_targets(model: nn.Module, patterns: Sequence[str]) -> dict[str, tuple[int, int]]:
    """The 2-D parameters whose names match any glob pattern, with their shapes.

    Raises:
        ConfigError: a pattern matches no matrix of the model.
    """
    matrices = {n: tuple(p.shape) for n, p in model.named_parameters() if p.ndim == 2}
    chosen: dict[str, tuple[int, int]] = {}
    for pattern in patterns:
        hits = [n for n in matrices if fnmatch.fnmatchcase(n, pattern)]
        if not hits:
            examples = list(matrices)[:6]
            raise ConfigError(
                f"targets: pattern {pattern!r} matches no weight matrix of the model; "
                f"matrix names look like {examples}"
            )
        for name in hits:
            chosen[name] = matrices[name]  # type: ignore[assignment]
    return dict(sorted(chosen.items()))


def largest_rank(
    model: nn.Module,
    targets: Sequence[str],
    num_tasks: int,
    num_sources: int,
    max_fraction: float,
) -> int:
    """The largest rank whose extra parameters stay within ``max_fraction`` of the model's.

    ``num_sources`` is the number of task vectors scaled (0 without task scaling).

    Raises:
        ConfigError: even rank 1 exceeds the budget.
    """
    shapes = select_targets(model, targets)
    budget = max_fraction * sum(p.numel() for p in model.parameters())
    scaling = len(shapes) * num_sources * num_tasks
    rank = 0
    while PreferenceLowRank.parameter_count(shapes, num_tasks, rank + 1) + scaling <= budget:
        rank += 1
    if rank == 0:
        raise ConfigError(
            f"targets {list(targets)}: even rank 1 adds more than {max_fraction:.2%} of the "
            f"model's parameters; narrow the targets or raise max_extra_fraction"
        )
    return rank


class ParetoMergedModel:
    """The starting merge plus a preference-conditioned low-rank correction.

    Args:
        model: The live model, holding the starting merge's weights.
        task_names: The K tasks a preference weights, in order.
        targets: Glob patterns over parameter names choosing the corrected
            matrices.
        rank: Inner rank of every correction.
        seed: Seeds the correction's initialisation.
        tokenizer: Saved next to exported checkpoints.
        plan: The starting merge, recorded in exports.
        task_vectors: Source name -> tensor name -> task vector (``theta_j -
            theta_base``, e.g. ``{n: pool.delta(n) for n in pool.names}``).
            When given, the corrected matrices also move along the task
            vectors with preference-dependent coefficients
            (:class:`PreferenceTaskScaling`).
    """

    def __init__(
        self,
        model: nn.Module,
        task_names: Sequence[str],
        targets: Sequence[str] = DEFAULT_TARGETS,
        rank: int = 2,
        seed: int = 0,
        tokenizer: Any = None,
        plan: MergePlan | None = None,
        task_vectors: Mapping[str, Mapping[str, Tensor]] | None = None,
    ) -> None:
        if len(task_names) < 2 or len(set(task_names)) != len(task_names):
            raise ConfigError(f"need at least two distinct task names, got {list(task_names)}")
        self.model = model
        self.task_names: tuple[str, ...] = tuple(task_names)
        self.targets = tuple(targets)
        self.tokenizer = tokenizer
        self.plan = plan
        # Where the base and sources came from (set by the runner), so a saved
        # correction can be reloaded on top of the same models.
        self.origin: dict[str, Any] | None = None
        shapes = select_targets(model, self.targets)
        params = dict(model.named_parameters())
        # The frozen starting weights, float32 for a precise sum with the correction.
        self.merged: dict[str, Tensor] = {
            name: params[name].detach().to(torch.float32).clone() for name in shapes
        }
        generator = torch.Generator().manual_seed(seed)
        device = next(model.parameters()).device
        self.correction = PreferenceLowRank(shapes, len(self.task_names), rank, generator).to(device)
        self.source_names: tuple[str, ...] = tuple(task_vectors or ())
        # Tensor name -> J x out x in, the sources' task vectors of each corrected matrix.
        self.task_vectors: dict[str, Tensor] = {}
        self.scaling: PreferenceTaskScaling | None = None
        if task_vectors:
            for name in shapes:
                missing = [s for s in self.source_names if name not in task_vectors[s]]
                if missing:
                    raise ConfigError(f"task vectors of sources {missing} lack tensor {name!r}")
                self.task_vectors[name] = torch.stack(
                    [task_vectors[s][name].to(device=device, dtype=torch.float32) for s in self.source_names]
                )
            self.scaling = PreferenceTaskScaling(
                tuple(shapes), len(self.source_names), len(self.task_names)
            ).to(device)
        # One module over every trained factor: the optimiser's and the saved state.
        self.trainable = nn.ModuleDict({"low_rank": self.correction})
        if self.scaling is not None:
            self.trainable["task_scaling"] = self.scaling

    # -- counts -------------------------------------------------------------

    @property
    def num_extra_parameters(self) -> int:
        """Trained scalars: the low-rank factors and, when used, the task scalings."""
        return sum(p.numel() for p in self.trainable.parameters())

    @property
    def num_model_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def extra_fraction(self) -> float:
        """Extra parameters as a fraction of the model's."""
        return self.num_extra_parameters / self.num_model_parameters

    # -- weights ------------------------------------------------------------

    def preference(self, preference: PreferenceLike) -> Tensor:
        """A checked, normalised preference of shape ``K`` (see :func:`check_preference`)."""
        return check_preference(preference, self.task_names)

    def weights_for(self, preference: Tensor) -> dict[str, Tensor]:
        """Corrected weights at one (already checked) preference of shape ``K``.

        Differentiable with respect to the correction's factors.
        """
        preference = preference.to(next(self.correction.parameters()).device)
        weights = {}
        for name, merged in self.merged.items():
            weight = merged + self.correction.delta(name, preference)
            if self.scaling is not None:
                coefficients = self.scaling.coefficients(name, preference)  # J
                weight = weight + torch.einsum("j,jab->ab", coefficients, self.task_vectors[name])
            weights[name] = weight
        return weights

    def logits(self, preference: Tensor, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Forward pass at one preference without touching the live weights.

        Args:
            preference: Shape ``K`` (checked).
            input_ids: ``batch x seq``.
            attention_mask: ``batch x seq``.

        Returns:
            Logits of shape ``batch x seq x vocab``.
        """
        weights = self.weights_for(preference)
        dtype = next(self.model.parameters()).dtype
        weights = {n: w.to(dtype) for n, w in weights.items()}
        out = torch.func.functional_call(
            self.model, weights, args=(), kwargs={"input_ids": input_ids, "attention_mask": attention_mask}
        )
        return out.logits

    @torch.no_grad()
    def model_for(self, preference: PreferenceLike) -> nn.Module:
        """Write the weights for ``preference`` into the live model, in place.

        Raises:
            MergeError: the preference has the wrong length, a negative weight,
                or sums to zero.

        Returns:
            The live model (the same object every call).
        """
        weights = self.weights_for(self.preference(preference))
        params = dict(self.model.named_parameters())
        for name, value in weights.items():
            params[name].copy_(value.to(params[name].dtype))
        return self.model

    @torch.no_grad()
    def restore(self) -> nn.Module:
        """Write the starting merge's weights back into the live model."""
        params = dict(self.model.named_parameters())
        for name, value in self.merged.items():
            params[name].copy_(value.to(params[name].dtype))
        return self.model

    # -- files --------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        return {
            "task_names": list(self.task_names),
            "targets": list(self.targets),
            "rank": self.correction.rank,
            "task_scaling_sources": list(self.source_names),
            "extra_parameters": self.num_extra_parameters,
            "model_parameters": self.num_model_parameters,
            "plan": self.plan.to_dict() if self.plan is not None else None,
            "origin": self.origin,
        }

    def export(self, preference: PreferenceLike, out_dir: str | Path) -> Path:
        """Write an HF checkpoint of the model at ``preference``.

        The folder holds the safetensors weights, config, tokenizer (when
        known) and ``pareto_merging.json`` with the preference and the
        starting plan. The live model is left at ``preference``.
        """
        out = Path(out_dir)
        checked = self.preference(preference)
        model = self.model_for(checked)
        model.save_pretrained(out)
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(out)
        meta = self.metadata() | {"preference": dict(zip(self.task_names, checked.tolist()))}
        (out / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        return out

    def save_correction(self, out_dir: str | Path) -> Path:
        """Save the trained factors (safetensors) and metadata, to dial later without retraining."""
        from safetensors.torch import save_file

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.trainable.state_dict().items()}
        save_file(state, str(out / CORRECTION_FILE))
        (out / METADATA_FILE).write_text(json.dumps(self.metadata(), indent=2) + "\n")
        return out / CORRECTION_FILE

    def load_correction(self, path: str | Path) -> None:
        """Load factors written by :meth:`save_correction` for the same targets and rank."""
        from safetensors.torch import load_file

        state = load_file(str(path))
        expected = set(self.trainable.state_dict())
        if set(state) != expected:
            raise ConfigError(
                f"{path}: correction tensors {sorted(set(state) ^ expected)[:4]} do not match "
                f"this model's targets {list(self.targets)}, rank {self.correction.rank} "
                f"and task scaling over {list(self.source_names)}"
            )
        try:
            self.trainable.load_state_dict(state)
        except RuntimeError as exc:
            raise ConfigError(f"{path}: correction shapes do not match: {exc}") from None

    def check_budget(self, max_fraction: float) -> None:
        """Refuse a correction larger than ``max_fraction`` of the model's parameters."""
        if self.extra_fraction > max_fraction:
            scaling = ""
            if self.scaling is not None:
                scaling = f" with task scaling over {len(self.source_names)} sources"
            raise ConfigError(
                f"rank {self.correction.rank}{scaling} on targets {list(self.targets)} adds "
                f"{self.num_extra_parameters} parameters, {self.extra_fraction:.2%} of the model's "
                f"{self.num_model_parameters} (limit {max_fraction:.2%}); lower rank or narrow targets"
            )


def preference_columns(task_names: Sequence[str], preference: Tensor) -> Mapping[str, float]:
    """Trial parameters recording a preference: ``preference[<task>]`` -> weight."""
    return {f"preference[{n}]": float(v) for n, v in zip(task_names, preference.tolist())}
