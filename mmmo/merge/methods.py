"""The merge methods mmmo knows, by name."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from mmmo.errors import MergeError
from mmmo.merge.base import MergeMethod
from mmmo.merge.breadcrumbs import BREADCRUMBS
from mmmo.merge.dare_linear import DARE_LINEAR
from mmmo.merge.dare_ties import DARE_TIES
from mmmo.merge.della import DELLA
from mmmo.merge.linear import LINEAR
from mmmo.merge.model_stock import MODEL_STOCK
from mmmo.merge.slerp import SLERP
from mmmo.merge.task_arithmetic import TASK_ARITHMETIC
from mmmo.merge.ties import TIES

METHODS: Mapping[str, MergeMethod] = MappingProxyType(
    {
        m.name: m
        for m in (
            LINEAR,
            TASK_ARITHMETIC,
            TIES,
            DARE_LINEAR,
            DARE_TIES,
            DELLA,
            BREADCRUMBS,
            SLERP,
            MODEL_STOCK,
        )
    }
)


def get_method(name: str) -> MergeMethod:
    """The method called ``name``; a :class:`MergeError` listing the known ones otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise MergeError(f"unknown merge method {name!r}; known methods: {sorted(METHODS)}") from None
