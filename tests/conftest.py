"""Fixtures shared by every test package."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mmmo.zoo import Zoo, ZooConfig, build_zoo

# Helper modules beside this file (``import micro_models``): tests import with
# ``--import-mode=importlib``, which puts no test folder on the path itself.
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def tiny_zoo() -> Zoo:
    """The small test zoo, built once per machine and cached (see ``mmmo.zoo``)."""
    return build_zoo(ZooConfig.tiny(), progress=False)
