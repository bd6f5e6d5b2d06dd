"""The merge tests' tiny checkpoints, shared with the source tests."""

import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "_merge_conftest", Path(__file__).resolve().parent.parent / "merge" / "conftest.py"
)
_merge_conftest = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _merge_conftest  # dataclasses look their module up
_spec.loader.exec_module(_merge_conftest)

tiny_models = _merge_conftest.tiny_models
tiny_pool = _merge_conftest.tiny_pool
TinyModels = _merge_conftest.TinyModels
perturbed = _merge_conftest.perturbed
tiny_config = _merge_conftest.tiny_config
