"""Pareto Merging: one gradient-based run that learns a model for every preference.

Black-box search returns a finite set of merges. Pareto Merging instead learns,
on top of a starting merge, a low-rank correction of chosen weight matrices
whose middle factor is a function of a preference vector over the tasks, so
any trade-off can be dialled afterwards at no search cost::

    W(p) = W_merged + A @ (sum_k p_k G[k]) @ B  +  sum_j (S @ p)_j tau_j

where the last term (optional, on by default in configs) moves the same
matrices along the sources' task vectors ``tau_j``. A run refuses trained
factors above ``correction.max_extra_fraction`` of the model's parameters
(1% by default) and, unless told a rank, picks the largest that fits.

Training draws preferences from a Dirichlet distribution and minimises the
preference-scalarised task losses (prediction entropy on unlabelled inputs,
or language-modelling loss on a labelled proxy set). A grid of preferences is
then evaluated and stored as trials of an mmmo campaign, so fronts,
hypervolume, selection and plots work as on a search campaign.

References:
    W. Chen, J. Kwok. Pareto Merging: Multi-Objective Optimization for
    Preference-Aware Model Merging. ICML 2025.
    E. Yang et al. AdaMerging: Adaptive Model Merging for Multi-Task
    Learning. ICLR 2024.
    X. Lin et al. Smooth Tchebycheff Scalarization for Multi-Objective
    Optimization. ICML 2024.
"""

from mmmo.pareto_merging.config import ParetoMergeConfig, load_pareto_config, parse_pareto_config
from mmmo.pareto_merging.data import TaskExamples, labelled_examples, read_prompts, unlabelled_examples
from mmmo.pareto_merging.grid import GridPoint, evaluate_grid
from mmmo.pareto_merging.losses import language_modelling_loss, prediction_entropy, scalarize
from mmmo.pareto_merging.merged import DEFAULT_TARGETS, ParetoMergedModel, largest_rank, select_targets
from mmmo.pareto_merging.model import PreferenceLowRank
from mmmo.pareto_merging.preference import check_preference, sample_preferences, simplex_grid
from mmmo.pareto_merging.run import ParetoMergeRun, load_run, run_from_config
from mmmo.pareto_merging.train import TrainingOptions, TrainingResult, evaluate_losses, train

__all__ = [
    "DEFAULT_TARGETS",
    "GridPoint",
    "ParetoMergeConfig",
    "ParetoMergeRun",
    "ParetoMergedModel",
    "PreferenceLowRank",
    "TaskExamples",
    "TrainingOptions",
    "TrainingResult",
    "check_preference",
    "evaluate_grid",
    "evaluate_losses",
    "labelled_examples",
    "language_modelling_loss",
    "largest_rank",
    "load_pareto_config",
    "load_run",
    "parse_pareto_config",
    "prediction_entropy",
    "read_prompts",
    "run_from_config",
    "sample_preferences",
    "scalarize",
    "select_targets",
    "simplex_grid",
    "train",
    "unlabelled_examples",
]
