import subprocess
import sys

import pytest

from mmmo.lazy import lazy_exports


def test_zoo_settings_and_the_cli_load_without_torch():
    code = (
        "import sys, mmmo.cli, mmmo.zoo.config, mmmo.realzoo.config, mmmo.zoo.cached_build\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_names_come_from_their_home_module_and_unknown_names_are_refused():
    getattr_ = lazy_exports("mmmo.zoo", {"ZooConfig": "config"})
    from mmmo.zoo.config import ZooConfig

    assert getattr_("ZooConfig") is ZooConfig
    with pytest.raises(AttributeError, match="'mmmo.zoo' has no attribute 'Zoo'"):
        getattr_("Zoo")
