"""How a campaign file is made, opened, locked and written: the file-system side of the store.

- :func:`write_new_file` makes a file complete or not at all (a temporary name
  in the same folder, then a hard link, which never replaces a file that
  appeared meanwhile).
- :func:`connect` opens read-only through a quoted URI (``#``, ``?`` and ``%``
  are part of a name, not of the URI), falling back to an immutable snapshot
  where the folder cannot be written; writers get WAL and ``synchronous=FULL``.
- :func:`acquire_lock` takes the writer's ``flock`` on ``<file>.lock``, never
  through a symlink.
- :func:`transaction` turns SQLite's write failures (a full disk) into a
  :class:`~mmmo.errors.StoreError` naming the file.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import shutil
import sqlite3
import stat
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mmmo.errors import CampaignLockedError, StoreError

__all__ = ["acquire_lock", "check_writable", "connect", "lock_path", "release_lock", "transaction", "write_new_file"]


def _readonly_uri(path: Path, immutable: bool = False) -> str:
    # Quoted, so '#', '?' and '%' in a path are part of the name, not of the URI.
    quoted = urllib.parse.quote(str(path.resolve()), safe="/")
    return f"file:{quoted}?mode=ro" + ("&immutable=1" if immutable else "")


def write_new_file(path: Path, fill: Callable[[sqlite3.Connection], None]) -> None:
    """Make a complete SQLite file at ``path`` or none: ``fill`` writes it (in one
    transaction) under a temporary name in the same folder, which is then linked to ``path``."""
    temp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666))
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the campaign file: {_os_reason(exc)}") from None
    try:
        connection = sqlite3.connect(temp, isolation_level=None)
        try:
            with transaction(connection, path):
                fill(connection)
            connection.execute("PRAGMA journal_mode = WAL")  # a property of the file: set it once, here
        finally:
            connection.close()
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)  # unlike a rename, never replaces a file that appeared meanwhile
        except FileExistsError:
            raise StoreError(f"{path}: a campaign file already exists; open it instead of creating it") from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV):
                raise
            if path.exists():  # a file system without hard links
                raise StoreError(f"{path}: a campaign file already exists") from None
            os.replace(temp, path)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot create the campaign file: {exc}") from None
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the campaign file: {_os_reason(exc)}") from None
    finally:
        temp.unlink(missing_ok=True)


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    return exc.strerror or str(exc)


def check_writable(path: Path) -> None:
    """Refuse, before any work, a campaign file or folder this process cannot write."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        raise StoreError(
            f"{path}: the campaign file is read-only here ({_os_reason(exc)}); "
            f"'mmmo status' and 'mmmo front' still read it"
        ) from None
    os.close(fd)
    if not os.access(path.parent, os.W_OK):
        raise StoreError(
            f"{path}: its folder {path.parent} is read-only, and a writer needs it for the lock and the "
            f"write-ahead log; 'mmmo status' and 'mmmo front' still read it"
        )


def connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    try:
        if readonly:
            connection = sqlite3.connect(_readonly_uri(path), uri=True, isolation_level=None)
            try:
                connection.execute("PRAGMA busy_timeout = 10000")
                connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError:
                if os.access(path.parent, os.W_OK):
                    raise
                # A WAL file in a folder this process cannot write (no -shm can be
                # made, so no writer can be at work either): read it as an
                # immutable snapshot, which needs no side files.
                connection.close()
                connection = sqlite3.connect(_readonly_uri(path, immutable=True), uri=True, isolation_level=None)
        else:
            connection = sqlite3.connect(path, isolation_level=None)
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = FULL")
        connection.execute("PRAGMA busy_timeout = 10000")
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open as SQLite: {exc}{_full_disk_hint(path)}") from exc
    return connection


def _full_disk_hint(path: Path) -> str:
    """SQLite reports a full disk as a mere I/O error when it cannot make its side files."""
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        return ""
    return f" (the disk holding {path.parent} is full: {free} bytes free)" if free < 1 << 20 else ""


@contextmanager
def transaction(connection: sqlite3.Connection, path: Path) -> Iterator[None]:
    """One ``BEGIN IMMEDIATE .. COMMIT``; an SQLite failure (a full disk) is a StoreError naming ``path``."""
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise StoreError(f"{path}: cannot write: {exc}{_full_disk_hint(path)}") from exc
    try:
        yield
    except BaseException as exc:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        if isinstance(exc, sqlite3.OperationalError):  # a full disk, a file made read-only meanwhile
            raise StoreError(f"{path}: cannot write: {exc}{_full_disk_hint(path)}") from exc
        raise
    try:
        connection.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise StoreError(f"{path}: cannot write: {exc}{_full_disk_hint(path)}") from exc


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def acquire_lock(path: Path) -> int:
    lock_file = lock_path(path)
    try:
        # Never through a symlink: a planted link would make the lock truncate its target.
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StoreError(f"{lock_file}: the lock file is a symlink; remove it (mmmo never follows it)") from None
        raise StoreError(f"{lock_file}: cannot create the lock file ({_os_reason(exc)})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise StoreError(f"{lock_file}: the lock file is not a regular file; remove it")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise CampaignLockedError(
            f"{path} is open for writing by process {holder}; stop it first, "
            f"or open the campaign with readonly=True to read it"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def release_lock(fd: int) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
