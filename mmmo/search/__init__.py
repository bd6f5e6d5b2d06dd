"""Search: the space of merge plans, Pareto utilities and proposers."""

from mmmo.search.pareto import hypervolume, hypervolume_history, infer_ref_point, pareto_mask, to_maximization
from mmmo.search.proposers import Proposer, make_proposer
from mmmo.search.space import SearchSpace

__all__ = [
    "Proposer",
    "SearchSpace",
    "hypervolume",
    "hypervolume_history",
    "infer_ref_point",
    "make_proposer",
    "pareto_mask",
    "to_maximization",
]
