"""The one-pass C kernel of generalized task arithmetic, built on first use and called through ctypes.

:mod:`mmmo.merge.gta` merges float32 CPU tensors with ``gta_kernel.c`` when it
can, and with torch ops otherwise (other dtypes, GPUs, a keep rule the kernel
lacks, no C compiler). Both give the same merge: the same keep rules, the same
random masks (:mod:`mmmo.merge.random_keep`), and sums that differ only by
float rounding order.

The kernel is plain C (no Python or torch headers), so the system compiler
builds it in well under a second. The shared library is cached under
:func:`mmmo.cache.cache_dir` in a folder keyed by the source, the compiler and
this CPU's instruction set (it is built with ``-march=native``). OpenMP is
used when the compiler has it. ``MMMO_NATIVE=0`` turns the kernel off.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

logger = logging.getLogger(__name__)

__all__ = ["KEEP_CODES", "MAX_SOURCES", "available", "bracket_magnitudes", "gta_merge"]

_SOURCE = Path(__file__).with_name("gta_kernel.c")
#: Keep rules the kernel implements, by :class:`mmmo.merge.gta.Keep` kind.
KEEP_CODES = {"all": 0, "above": 1, "between": 2, "bernoulli": 3}
#: Most sources one kernel call merges (its per-block buffers live on the stack).
MAX_SOURCES = 32

_lock = threading.Lock()
_library: ctypes.CDLL | None = None
_failed = False


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


def _build(compiler: str, target: Path) -> None:
    """Compile the kernel into ``target``, with OpenMP if the compiler takes it."""
    base_flags = ["-O3", "-march=native", "-fPIC", "-shared", "-std=c99"]
    errors = []
    for extra in (["-fopenmp"], []):
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            built = Path(tmp) / target.name
            command = [compiler, *base_flags, *extra, str(_SOURCE), "-o", str(built), "-lm"]
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode == 0:
                os.replace(built, target)  # atomic: a reader never sees half a library
                return
            errors.append(f"{' '.join(command)}:\n{result.stderr.strip()}")
    raise OSError("could not compile the merge kernel:\n" + "\n".join(errors))


def _load() -> ctypes.CDLL | None:
    global _library, _failed
    if _library is not None or _failed:
        return _library
    with _lock:
        if _library is not None or _failed:
            return _library
        if os.environ.get("MMMO_NATIVE", "1") == "0":
            _failed = True
            return None
        compiler = _compiler()
        if compiler is None:
            logger.info("no C compiler found; merging with torch ops")
            _failed = True
            return None
        from mmmo.cache import cache_dir

        version = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=False).stdout
        key = hashlib.sha256(
            b"\0".join([_SOURCE.read_bytes(), compiler.encode(), version.encode(), _cpu_signature().encode()])
        ).hexdigest()[:16]
        folder = cache_dir() / "kernels" / key
        target = folder / "gta_kernel.so"
        try:
            if not target.is_file():
                folder.mkdir(parents=True, exist_ok=True)
                _build(compiler, target)
            library = ctypes.CDLL(str(target))
        except OSError as error:
            logger.warning("merging with torch ops: %s", error)
            _failed = True
            return None
        library.gta_merge.restype = ctypes.c_int
        library.gta_merge.argtypes = [
            ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_void_p,
            ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
            ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
            ctypes.c_float, ctypes.c_float, ctypes.c_void_p, ctypes.c_int,
        ]  # fmt: skip
        library.bracket_magnitudes.restype = ctypes.c_int64
        library.bracket_magnitudes.argtypes = [
            ctypes.c_void_p, ctypes.c_int64, ctypes.c_float, ctypes.c_float, ctypes.c_void_p, ctypes.c_int64,
        ]
        _library = library
        return library


def available() -> bool:
    """Whether the kernel is built and loaded (building it on the first call)."""
    return _load() is not None


def usable(*tensors: Tensor) -> bool:
    """Whether the kernel can take these tensors: contiguous float32 on the CPU, and it is available."""
    return all(t.device.type == "cpu" and t.dtype == torch.float32 and t.is_contiguous() for t in tensors) and (
        available()
    )


def _array(ctype, values: Sequence) -> ctypes.Array:
    return (ctype * len(values))(*values)


def gta_merge(
    base: Tensor,
    deltas: Sequence[Tensor],
    kinds: Sequence[str],
    lows: Sequence[float],
    highs: Sequence[float],
    levels: Sequence[int],
    keys: Sequence[int],
    coefficients: Sequence[float],
    weights: Sequence[float],
    consensus: bool,
    normalize: bool,
    scalar_divisor: float,
    lam: float,
    out: Tensor,
) -> None:
    """Write the merge of flat float32 ``base: [n]`` and ``deltas[k]: [n]`` into ``out: [n]`` (see gta_kernel.c)."""
    library = _load()
    if library is None:
        raise RuntimeError("the merge kernel is not available")
    k = len(deltas)
    if not 1 <= k <= MAX_SOURCES:
        raise ValueError(f"the merge kernel takes 1 to {MAX_SOURCES} sources, got {k}")
    pointers = _array(ctypes.c_void_p, [d.data_ptr() for d in deltas])
    status = library.gta_merge(
        base.data_ptr(), ctypes.addressof(pointers), k, base.numel(),
        _array(ctypes.c_int32, [KEEP_CODES[kind] for kind in kinds]),
        _array(ctypes.c_float, lows), _array(ctypes.c_float, highs),
        _array(ctypes.c_uint32, levels), _array(ctypes.c_uint64, keys),
        _array(ctypes.c_float, coefficients), _array(ctypes.c_float, weights),
        int(consensus), int(normalize), scalar_divisor, lam, out.data_ptr(), torch.get_num_threads(),
    )  # fmt: skip
    if status != 0:
        raise RuntimeError(f"the merge kernel refused its arguments (status {status})")


def bracket_magnitudes(delta: Tensor, low: float, high: float, capacity: int) -> Tensor:
    """The ``|delta|`` (flat float32 ``[n]``) in ``[low, high]``, in index order."""
    library = _load()
    if library is None:
        raise RuntimeError("the merge kernel is not available")
    while True:
        found = torch.empty(max(capacity, 1), dtype=torch.float32)
        count = library.bracket_magnitudes(delta.data_ptr(), delta.numel(), low, high, found.data_ptr(), capacity)
        if count <= capacity:
            return found[:count]
        capacity = int(count)
