"""Model sources: a base and its fine-tuned descendants, as base weights plus task vectors."""

from mmmo.sources.layout import TensorLayout, TensorPlace
from mmmo.sources.pool import ModelInput, ModelPool

__all__ = ["ModelInput", "ModelPool", "TensorLayout", "TensorPlace"]
