"""The merge engine: merge methods as per-tensor functions and the in-memory merger."""

from mmmo.merge.base import MergeMethod, Scratch, TensorJob
from mmmo.merge.magnitude import MagnitudeIndex
from mmmo.merge.merger import Merger
from mmmo.merge.methods import METHODS, get_method

__all__ = ["METHODS", "MagnitudeIndex", "MergeMethod", "Merger", "Scratch", "TensorJob", "get_method"]
