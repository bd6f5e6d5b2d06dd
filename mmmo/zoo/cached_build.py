"""Build a folder once, atomically, and reuse it: the cache rule of every zoo.

The folder is built into a staging folder beside the target and renamed into
place only when complete, so a killed build never leaves a folder that looks
finished; a lock file makes a second process wait for the first instead of
building the same folder twice. A folder counts as built once its manifest
file exists, which the build writes last.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

Built = TypeVar("Built")


def build_cached(
    target: Path,
    manifest_name: str,
    build_into: Callable[[Path], None],
    load: Callable[[Path], Built],
) -> Built:
    """``load(target)``, after ``build_into`` has filled it unless it was built before.

    Args:
        target: The finished folder's path.
        manifest_name: The file inside ``target`` whose presence marks it complete.
        build_into: Writes the whole folder into the staging path it is given,
            ``manifest_name`` last.
        load: Opens the finished folder.
    """
    if (target / manifest_name).is_file():
        return load(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock(target):
        if (target / manifest_name).is_file():  # built by another process while we waited
            return load(target)
        for stale in target.parent.glob(f".{target.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a killed build
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        try:
            build_into(staging)
            staging.chmod(0o755)  # mkdtemp made it private; a finished folder is shared
            if target.exists():  # an incomplete folder (no manifest) from an older layout
                shutil.rmtree(target)
            os.rename(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return load(target)


@contextlib.contextmanager
def _build_lock(target: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: the atomic rename alone keeps the cache sound
        yield
        return
    with open(target.parent / f".{target.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
