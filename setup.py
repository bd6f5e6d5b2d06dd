"""Build hook: ship the top-level ``search_spaces/`` and ``objectives/`` folders inside the wheel.

They stay at the top of the repository, where users read and edit them; a
wheel (or a Ray worker image built from one) carries copies in
``mmmo/_data/``, where :mod:`mmmo.resources` looks first. Everything else is
declared in ``pyproject.toml``.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = ("search_spaces", "objectives")  # mmmo.resources.SHIPPED_FOLDERS


class BuildWithData(build_py):
    def run(self):
        super().run()
        if self.editable_mode:
            return  # an editable install reads the folders in the checkout
        for name in SHIPPED:
            target = Path(self.build_lib) / "mmmo" / "_data" / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(ROOT / name, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithData})
