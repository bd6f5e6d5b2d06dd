"""Safetensors files mapped into memory: tensors that are views of the page cache.

``safetensors``' own loaders copy every tensor into process memory, which is
what ``storage: mmap`` exists to avoid. The format is a little-endian u64
header length, a JSON header (dtype, shape, byte range of each tensor) and the
raw bytes, so a read-only map of the file gives every tensor as a view whose
pages belong to the page cache (file-backed, evictable), not to the process.

A mapped file that is truncated while mapped makes a read past its new end
kill the process (SIGBUS). :meth:`MappedFile.check_unchanged` therefore
compares the file's size, modification time and inode with those seen when it
was mapped; the merger calls it before every merge.
"""

from __future__ import annotations

import json
import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from mmmo.errors import SourceError

DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


@dataclass(frozen=True)
class TensorEntry:
    """Where one tensor lies in a safetensors file."""

    name: str
    dtype: torch.dtype
    shape: torch.Size
    begin: int  # byte offset from the start of the file
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.begin


def _identity(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


def read_header(path: Path, role: str) -> dict[str, TensorEntry]:
    """The tensors listed in a safetensors file's header; a truncated or malformed file is refused.

    Raises:
        SourceError: naming ``role``, the file and, for a truncated file, the first tensor cut off.
    """
    try:
        with open(path, "rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise SourceError(f"{role}: {str(path)!r} is not a safetensors file (shorter than its header)")
            (length,) = struct.unpack("<Q", prefix)
            size = path.stat().st_size
            if length > size - 8:
                raise SourceError(f"{role}: {str(path)!r} is truncated: header of {length} bytes, file of {size}")
            header = json.loads(handle.read(length))
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise SourceError(f"{role}: cannot read the safetensors header of {str(path)!r}: {error}") from error
    start = 8 + length
    entries: dict[str, TensorEntry] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = DTYPES[info["dtype"]]
            begin, end = (start + int(offset) for offset in info["data_offsets"])
            shape = torch.Size(int(d) for d in info["shape"])
        except (KeyError, TypeError, ValueError) as error:
            raise SourceError(f"{role}: tensor {name!r} in {str(path)!r} has a malformed header entry") from error
        if end > size:
            raise SourceError(
                f"{role}: {str(path)!r} is truncated: tensor {name!r} ends at byte {end}, the file has {size}"
            )
        entries[name] = TensorEntry(name, dtype, shape, begin, end)
    return entries


class MappedFile:
    """One safetensors file mapped read-only; :meth:`tensor` gives zero-copy views."""

    def __init__(self, path: Path, role: str) -> None:
        self.path = Path(path)
        self.role = role
        self.entries = read_header(self.path, role)
        self._identity = _identity(self.path)
        with open(self.path, "rb") as handle:
            # ACCESS_COPY: writable to Python (torch.frombuffer wants that) but
            # never written back; pages stay shared with the page cache until
            # written, and nothing writes them.
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY)
        if hasattr(self._map, "madvise") and hasattr(mmap, "MADV_SEQUENTIAL"):
            self._map.madvise(mmap.MADV_SEQUENTIAL)

    def tensor(self, name: str) -> Tensor:
        """Tensor ``name`` as a CPU view of the mapped file (its own dtype and shape)."""
        entry = self.entries[name]
        count = entry.nbytes // torch.empty((), dtype=entry.dtype).element_size()
        if count == 0:
            return torch.empty(entry.shape, dtype=entry.dtype)
        flat = torch.frombuffer(self._map, dtype=entry.dtype, count=count, offset=entry.begin)
        return flat.view(entry.shape)

    def check_unchanged(self) -> None:
        """Raise if the file was rewritten, truncated or replaced since it was mapped."""
        try:
            now = _identity(self.path)
        except OSError as error:
            raise SourceError(f"{self.role}: {str(self.path)!r} is gone since it was loaded: {error}") from error
        if now != self._identity:
            size, _, _ = now
            raise SourceError(
                f"{self.role}: {str(self.path)!r} changed on disk since it was loaded "
                f"(size {self._identity[0]} -> {size} bytes); reload the models to merge from the new file"
            )


class MappedCheckpoint:
    """Every tensor of a checkpoint directory (one file or shards) as mapped views."""

    def __init__(self, files: list[Path], role: str) -> None:
        self.role = role
        self.files = [MappedFile(f, role) for f in files]
        self._where: dict[str, MappedFile] = {}
        for mapped in self.files:
            for name in mapped.entries:
                self._where[name] = mapped

    @property
    def entries(self) -> dict[str, TensorEntry]:
        return {name: mapped.entries[name] for name, mapped in self._where.items()}

    def tensor(self, name: str) -> Tensor:
        try:
            mapped = self._where[name]
        except KeyError:
            raise SourceError(f"{self.role}: missing tensor {name!r}") from None
        return mapped.tensor(name)

    def check_unchanged(self) -> None:
        for mapped in self.files:
            mapped.check_unchanged()


def header_entries(files: list[Path], role: str) -> dict[str, TensorEntry]:
    """The tensors of a checkpoint's files, read from their headers only (nothing is loaded)."""
    entries: dict[str, TensorEntry] = {}
    for file in files:
        entries.update(read_header(file, role))
    return entries
