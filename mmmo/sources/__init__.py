"""Model sources: a base and its fine-tuned descendants, as base weights plus task vectors."""

from mmmo.sources.layout import TensorLayout, TensorPlace
from mmmo.sources.pool import ModelInput, ModelPool
from mmmo.sources.task_vectors import TaskVectors

__all__ = ["ModelInput", "ModelPool", "TaskVectors", "TensorLayout", "TensorPlace"]
