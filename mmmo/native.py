"""Small C kernels, built by the system compiler on first use and loaded through ctypes.

A kernel is one plain C file (no Python or torch headers), so it builds in well
under a second. The shared library is cached under :func:`mmmo.cache.cache_dir`
in a folder keyed by the source, the compiler and this CPU's instruction set
(it is built with ``-march=native``); the build is written atomically, so
concurrent processes never load half a library. OpenMP is used when the
compiler has it. A cached library is loaded only from folders owned by the
current user and writable by no one else (loading a library runs its code);
otherwise the kernel is rebuilt in a private temporary folder for this
process. ``MMMO_NATIVE=0`` turns every kernel off, and a machine
without a compiler, or a failed build, leaves the callers on their torch path
(a failed build logs a warning once).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import stat
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

__all__ = ["NativeLibrary"]

_private_dir: Path | None = None
_private_lock = threading.Lock()


def _is_private(path: Path) -> bool:
    """Whether ``path`` is a real file or folder (no symlink) of this user that others cannot write."""
    try:
        info = path.lstat()
    except OSError:
        return False
    return (
        not stat.S_ISLNK(info.st_mode)
        and info.st_uid == os.geteuid()
        and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def _private_kernel_dir() -> Path:
    """A folder only this process's user can write, made once per process."""
    global _private_dir
    with _private_lock:
        if _private_dir is None:
            _private_dir = Path(tempfile.mkdtemp(prefix="mmmo-kernels-"))
        return _private_dir


def _cpu_signature() -> str:
    """What ``-march=native`` depends on: the machine and its CPU flags."""
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = line
                break
    except OSError:
        pass
    return f"{platform.machine()}|{flags}"


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return name
    return None


class NativeLibrary:
    """One C source file, compiled and loaded on the first :meth:`load`.

    Args:
        source: The C file.
        description: What it is, for messages ("the merge kernel").
        declare: Sets ``restype``/``argtypes`` of the loaded library's functions.
    """

    def __init__(self, source: Path, description: str, declare: Callable[[ctypes.CDLL], None]) -> None:
        self.source = source
        self.description = description
        self._declare = declare
        self._lock = threading.Lock()
        self._library: ctypes.CDLL | None = None
        self._failed = False

    def reset(self) -> None:
        """Forget the loaded library (or the failure), so the next :meth:`load` tries again."""
        with self._lock:
            self._library = None
            self._failed = False

    def available(self) -> bool:
        """Whether the library is built and loaded (building it on the first call)."""
        return self.load() is not None

    def load(self) -> ctypes.CDLL | None:
        """The loaded library, or None when it is turned off or cannot be built."""
        if self._library is not None or self._failed:
            return self._library
        with self._lock:
            if self._library is None and not self._failed:
                self._library = self._build_and_load()
                self._failed = self._library is None
        return self._library

    def _build_and_load(self) -> ctypes.CDLL | None:
        if os.environ.get("MMMO_NATIVE", "1") == "0":
            return None
        compiler = _compiler()
        if compiler is None:
            logger.info("no C compiler found; %s is off and torch ops run instead", self.description)
            return None
        from mmmo.cache import cache_dir

        version = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=False).stdout
        key = hashlib.sha256(
            b"\0".join([self.source.read_bytes(), compiler.encode(), version.encode(), _cpu_signature().encode()])
        ).hexdigest()[:16]
        kernels = cache_dir() / "kernels"
        target = kernels / key / f"{self.source.stem}.so"
        try:
            kernels.mkdir(mode=0o755, parents=True, exist_ok=True)
            target.parent.mkdir(mode=0o755, exist_ok=True)
            if not all(_is_private(p) for p in (kernels, target.parent)) or (
                target.exists() and not _is_private(target)
            ):
                logger.warning(
                    "%s: %s is not owned by this user only; %s is built in a private folder instead",
                    self.description, target.parent, self.description,
                )
                target = _private_kernel_dir() / key / target.name
                target.parent.mkdir(mode=0o700, exist_ok=True)
            if not target.is_file():
                self._build(compiler, target)
            library = ctypes.CDLL(str(target))
        except OSError as error:
            logger.warning("%s is off, torch ops run instead: %s", self.description, error)
            return None
        self._declare(library)
        return library

    def _build(self, compiler: str, target: Path) -> None:
        """Compile the source into ``target``, with OpenMP if the compiler takes it."""
        base_flags = ["-O3", "-march=native", "-fPIC", "-shared", "-std=c99"]
        errors = []
        for extra in (["-fopenmp"], []):
            with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
                built = Path(tmp) / target.name
                command = [compiler, *base_flags, *extra, str(self.source), "-o", str(built), "-lm"]
                result = subprocess.run(command, capture_output=True, text=True, check=False)
                if result.returncode == 0:
                    os.replace(built, target)  # atomic: a reader never sees half a library
                    return
                errors.append(f"{' '.join(command)}:\n{result.stderr.strip()}")
        raise OSError(f"could not compile {self.description}:\n" + "\n".join(errors))
