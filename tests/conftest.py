"""Fixtures shared by every test package."""

from __future__ import annotations

import pytest

from mmmo.zoo import Zoo, ZooConfig, build_zoo


@pytest.fixture(scope="session")
def tiny_zoo() -> Zoo:
    """The small test zoo, built once per machine and cached (see ``mmmo.zoo``)."""
    return build_zoo(ZooConfig.tiny(), progress=False)
