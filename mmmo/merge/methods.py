"""The merge methods mmmo knows, by name: a view of :data:`mmmo.registry.MERGE_METHODS`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from mmmo.errors import ConfigError, MergeError
from mmmo.merge.base import MergeMethod
from mmmo.registry import MERGE_METHODS


class _MethodsView(Mapping[str, MergeMethod]):
    """Every registered merge method by name (mmmo's, the user's, entry points)."""

    def __getitem__(self, name: str) -> MergeMethod:
        if name not in MERGE_METHODS:
            raise KeyError(name)
        return MERGE_METHODS.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(MERGE_METHODS.names())

    def __len__(self) -> int:
        return len(MERGE_METHODS.names())


METHODS: Mapping[str, MergeMethod] = _MethodsView()


def get_method(name: str) -> MergeMethod:
    """The method called ``name``; a :class:`MergeError` listing the known ones otherwise."""
    if name not in MERGE_METHODS:
        raise MergeError(f"unknown merge method {name!r}; known methods: {list(MERGE_METHODS.names())}")
    try:
        return MERGE_METHODS.get(name)
    except ConfigError as exc:
        raise MergeError(str(exc)) from None
