"""Exception classes for mmmo.

Every mistake a user can make (a missing path, a malformed config, models
that do not fit together) raises one of these, with a message that names the
thing at fault. Internal bugs are left to raise whatever Python raises.
"""

from __future__ import annotations


class MmmoError(Exception):
    """Base class of every error mmmo raises on purpose."""


class ConfigError(MmmoError, ValueError):
    """A campaign config, search space or objective spec is invalid."""


class SourceError(MmmoError, ValueError):
    """A base or source model is missing, unreadable or does not fit the others."""


class LayoutError(SourceError):
    """A model's tensors cannot be placed in decoder layers and roles."""


class MergeError(MmmoError, ValueError):
    """A merge plan cannot be applied (bad weights, densities, method options)."""


class ObjectiveError(MmmoError, ValueError):
    """An objective's definition or data is invalid (raised when it is built)."""


class StoreError(MmmoError, RuntimeError):
    """The campaign store cannot be opened or written."""


class CampaignLockedError(StoreError):
    """Another process holds the campaign open for writing."""


class ZooError(MmmoError, RuntimeError):
    """The demo zoo could not be built or loaded."""


class ExportError(MmmoError, ValueError):
    """A merged model cannot be exported where asked (a file, a model's folder, a non-empty folder)."""


class ExecutorError(MmmoError, RuntimeError):
    """The workers cannot be started or reached (a Ray cluster, its resources)."""
