"""One registry per extension point: objective kinds, merge methods, proposers.

Each registry maps a name (what a config writes: ``kind: exact_match``,
``method: ties``, ``proposer: qlognehvi``) to the thing that implements it.
The config validators ask these registries, and only these, which names
exist, so a name added here is usable in a config at once.

Three ways in, in order of precedence:

- mmmo's own entries, named as ``"module:attribute"`` and imported on first
  use, so ``import mmmo`` stays free of torch;
- ``registry.register(name, entry)`` from Python (or as a decorator);
- an entry point in the user's own package, in the group
  ``mmmo.objectives``, ``mmmo.merge_methods`` or ``mmmo.proposers``, whose
  name is the registered name and whose object is the entry.

What an entry is depends on the registry: an
:class:`~mmmo.objectives.kinds.ObjectiveKind`, a
:class:`~mmmo.merge.base.MergeMethod`, or a proposer factory
``(seed=..., **options) -> Proposer`` (a proposer class is one).
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from mmmo.errors import ConfigError

__all__ = ["MERGE_METHODS", "OBJECTIVES", "PROPOSERS", "Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Names to entries of one extension point.

    Args:
        what: What an entry is, for messages (``"merge method"``).
        field: The config field that names entries, for messages (``"space.method"``).
        group: The entry-point group users' packages register under.
        builtins: mmmo's own entries as ``"module:attribute"``, imported on first use.
        check: Validates an entry when it is first loaded (the entry and its
            name); raises :class:`ConfigError` when it is not what this registry holds.
    """

    def __init__(
        self,
        what: str,
        field: str,
        group: str,
        builtins: Mapping[str, str],
        check: Callable[[str, Any], None] | None = None,
    ) -> None:
        self.what = what
        self.field = field
        self.group = group
        self._builtins = dict(builtins)
        self._registered: dict[str, T] = {}
        self._loaded: dict[str, T] = {}
        self._check = check
        self._plugins_key: tuple[str, ...] | None = None
        self._plugins: dict[str, EntryPoint] = {}

    # -- adding ------------------------------------------------------------

    def register(self, name: str, entry: T | None = None, *, replace: bool = False) -> Any:
        """Add ``entry`` under ``name``; without ``entry``, a decorator that adds what it decorates.

        Raises:
            ConfigError: ``name`` is taken (mmmo's own names always are) and
                ``replace`` is false.
        """
        if entry is None:
            return lambda decorated: self.register(name, decorated, replace=replace)
        if not isinstance(name, str) or not name:
            raise ConfigError(f"a {self.what} needs a non-empty string name, got {name!r}")
        if name in self._builtins:
            raise ConfigError(f"{self.what} {name!r} is one of mmmo's own; choose another name")
        if name in self and not replace:
            raise ConfigError(f"{self.what} {name!r} is already registered; pass replace=True to replace it")
        if self._check is not None:
            self._check(name, entry)
        self._registered[name] = entry
        self._loaded.pop(name, None)
        return entry

    def unregister(self, name: str) -> None:
        """Remove an entry added with :meth:`register` (mmmo's own stay)."""
        self._registered.pop(name, None)
        self._loaded.pop(name, None)

    # -- reading -----------------------------------------------------------

    def names(self) -> tuple[str, ...]:
        """Every name an entry can be found under: mmmo's own, then registered ones, then entry points."""
        return tuple(dict.fromkeys([*self._builtins, *self._registered, *self._entry_points()]))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (
            name in self._builtins or name in self._registered or name in self._entry_points()
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def get(self, name: str) -> T:
        """The entry called ``name``, imported on first use.

        Raises:
            ConfigError: No such name (the message lists the known ones), or
                a user's entry point that cannot be imported or is not a valid entry.
        """
        if name in self._loaded:
            return self._loaded[name]
        if name in self._builtins:
            entry = _import(self._builtins[name])
        elif name in self._registered:
            entry = self._registered[name]
        elif name in self._entry_points():
            point = self._entry_points()[name]
            try:
                entry = point.load()
            except Exception as exc:  # noqa: BLE001 - any import failure of user code
                raise ConfigError(
                    f"{self.field}: {self.what} {name!r} comes from entry point {point.value!r} "
                    f"(group {self.group!r}), which cannot be loaded: {type(exc).__name__}: {exc}"
                ) from exc
            if self._check is not None:
                self._check(name, entry)
        else:
            raise ConfigError(self.unknown_message(name))
        self._loaded[name] = entry
        return entry

    def unknown_message(self, name: object) -> str:
        return f"{self.field}: unknown {self.what} {name!r}; known: {', '.join(self.names())}"

    def _entry_points(self) -> dict[str, EntryPoint]:
        # Installed packages change only with sys.path here; read their metadata once per path.
        key = tuple(sys.path)
        if key != self._plugins_key:
            found: dict[str, EntryPoint] = {}
            for point in entry_points(group=self.group):
                if point.name in self._builtins:
                    warnings.warn(
                        f"entry point {point.name!r} = {point.value!r} in group {self.group!r} "
                        f"is ignored: {point.name!r} is one of mmmo's own {self.what}s",
                        stacklevel=2,
                    )
                    continue
                found.setdefault(point.name, point)
            self._plugins, self._plugins_key = found, key
            self._loaded = {k: v for k, v in self._loaded.items() if k in self._builtins or k in self._registered}
        return self._plugins


def _import(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _check_objective_kind(name: str, entry: Any) -> None:
    from mmmo.objectives.kinds import ObjectiveKind

    if not isinstance(entry, ObjectiveKind):
        raise ConfigError(f"objective kind {name!r} must be an ObjectiveKind, got {type(entry).__name__}")
    if entry.name != name:
        raise ConfigError(f"objective kind registered as {name!r} is named {entry.name!r}; use one name")


def _check_merge_method(name: str, entry: Any) -> None:
    from mmmo.merge.base import MergeMethod

    if not isinstance(entry, MergeMethod):
        raise ConfigError(f"merge method {name!r} must be a MergeMethod, got {type(entry).__name__}")
    if entry.name != name:
        raise ConfigError(f"merge method registered as {name!r} is named {entry.name!r}; use one name")


def _check_proposer(name: str, entry: Any) -> None:
    if not callable(entry):
        raise ConfigError(f"proposer {name!r} must be a class or factory taking seed=..., got {entry!r}")


OBJECTIVES: Registry[Any] = Registry(
    "objective kind",
    "objectives.kind",
    "mmmo.objectives",
    {
        name: f"mmmo.objectives.kinds:{name.upper()}"
        for name in (
            "exact_match",
            "token_accuracy",
            "answer_loglik",
            "choice_accuracy",
            "perplexity",
            "delta_l1",
            "delta_l2",
            "delta_density",
            "lm_eval",
            "callable",
        )
    },
    _check_objective_kind,
)

MERGE_METHODS: Registry[Any] = Registry(
    "merge method",
    "space.method",
    "mmmo.merge_methods",
    {
        "linear": "mmmo.merge.linear:LINEAR",
        "task_arithmetic": "mmmo.merge.task_arithmetic:TASK_ARITHMETIC",
        "ties": "mmmo.merge.ties:TIES",
        "dare_linear": "mmmo.merge.dare_linear:DARE_LINEAR",
        "dare_ties": "mmmo.merge.dare_ties:DARE_TIES",
        "della": "mmmo.merge.della:DELLA",
        "breadcrumbs": "mmmo.merge.breadcrumbs:BREADCRUMBS",
        "slerp": "mmmo.merge.slerp:SLERP",
        "model_stock": "mmmo.merge.model_stock:MODEL_STOCK",
    },
    _check_merge_method,
)

PROPOSERS: Registry[Any] = Registry(
    "proposer",
    "proposer",
    "mmmo.proposers",
    {
        "design": "mmmo.search.proposers.design:InitialDesign",
        "sobol": "mmmo.search.proposers.sobol:SobolProposer",
        "random": "mmmo.search.proposers.random:RandomProposer",
        "qlognehvi": "mmmo.search.proposers.qlognehvi:QLogNEHVIProposer",
        "qlognparego": "mmmo.search.proposers.qlognparego:QLogNParEGOProposer",
        "saas": "mmmo.search.proposers.saas:SAASProposer",
        "coarse_to_fine": "mmmo.search.proposers.coarse_to_fine:CoarseToFineProposer",
        "auto": "mmmo.search.proposers.auto:AutoProposer",
    },
    _check_proposer,
)
