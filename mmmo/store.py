"""The campaign store: one SQLite file per campaign, through the standard library.

Contract:

- One file holds everything a campaign needs to be reopened: its validated
  config, small metadata (objective directions, ...) and a row per trial.
- Every state change is one transaction (``BEGIN IMMEDIATE`` .. ``COMMIT``) with
  ``synchronous=FULL`` in WAL mode, so a process killed at any point leaves each
  trial either in its old state or its new one, never in between.
- A trial moves ``pending -> running -> complete | failed``; a transition from
  any other state is refused. :meth:`CampaignStore.requeue_running` turns the
  ``running`` trials of a killed process back into ``pending`` (the same row,
  so a trial is never duplicated). Reference labels are unique.
- One writer at a time: a writer holds an exclusive ``flock`` on ``<file>.lock``
  for its lifetime (released by the OS if the process dies); a second writer
  gets :class:`~mmmo.errors.CampaignLockedError` naming the holder's pid. The
  lock file is never followed through a symlink.
  Read-only stores take no lock, see every committed change, and also open a
  campaign in a folder they cannot write.
- Creation is atomic: the file is written in full under a temporary name in
  the same folder and then linked into place, so a failure (a full disk) leaves
  no partial file behind.
- A file is checked to be a campaign of a readable schema version before
  anything is written to it or beside it (no WAL switch, no lock file): a
  foreign or empty file given to a writer is refused untouched.
- The schema has a version (:data:`SCHEMA_VERSION`, history in
  :mod:`mmmo.store_schema`). A file of an older version is upgraded in one
  transaction when opened for writing and read as it is when opened
  read-only; newer ones are refused.
- Every trial has an ``origin`` (``reference``, ``searched``, ``external``),
  set when it is inserted; the budget counts ``searched`` trials only.
- A trial row whose JSON cannot be decoded is reported by trial id: a
  read-only store skips it (with a warning; :attr:`CampaignStore.corrupt_trials`
  lists them), a writer refuses to go on with :class:`~mmmo.errors.StoreError`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmmo.errors import StoreError
from mmmo.objectives.base import Measurement
from mmmo.store_files import acquire_lock, check_writable, connect, lock_path, release_lock, transaction, write_new_file
from mmmo.store_schema import ORIGINS, SCHEMA_SQL, SCHEMA_VERSION, Origin, migrate, v1_origin
from mmmo.trial import TrialRecord

__all__ = ["SCHEMA_VERSION", "CampaignStore", "NewTrial"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewTrial:
    """A trial to insert as ``pending``; ``origin`` says who made it (always given)."""

    proposer: str
    seed: int
    x: Sequence[float] | None = None
    plan: Mapping[str, Any] | None = None
    label: str | None = None
    params: Mapping[str, Any] | None = None
    seconds_propose: float | None = None
    fidelity: float | None = None
    origin: Origin = field(kw_only=True)

    def __post_init__(self) -> None:
        if self.origin not in ORIGINS:
            raise StoreError(f"NewTrial.origin must be one of {', '.join(ORIGINS)}; got {self.origin!r}")


class CampaignStore:
    """Read and write one campaign file. Use :meth:`create` or :meth:`open`."""

    def __init__(self, path: Path, connection: sqlite3.Connection, lock_fd: int | None) -> None:
        self.path = path
        self._connection = connection
        self._lock_fd = lock_fd
        #: Ids of trial rows skipped because their JSON could not be decoded (read-only stores).
        self.corrupt_trials: dict[int, str] = {}

    # -- opening -----------------------------------------------------------

    @classmethod
    def create(cls, path: str | Path, config_json: str, meta: Mapping[str, Any] | None = None) -> CampaignStore:
        """Create a new campaign file holding ``config_json`` (and ``meta``); refuses an existing file.

        The file appears complete or not at all: it is written under a
        temporary name in the same folder and then linked to ``path``.
        """
        path = Path(path)
        if path.exists() or path.is_symlink():
            raise StoreError(f"{path}: a campaign file already exists; open it instead of creating it")
        if not path.parent.is_dir():
            raise StoreError(f"{path}: folder {path.parent} does not exist")
        lock_fd = acquire_lock(path)
        try:
            write_new_file(path, lambda connection: _fill_new_file(connection, config_json, dict(meta or {})))
            connection = connect(path)
        except BaseException:
            release_lock(lock_fd)
            if not path.exists():
                lock_path(path).unlink(missing_ok=True)  # nothing of the failed creation stays behind
            raise
        return cls(path, connection, lock_fd)

    @classmethod
    def open(cls, path: str | Path, readonly: bool = False) -> CampaignStore:
        """Open an existing campaign file, for writing (exclusive) or reading (shared).

        The file is checked to be a readable campaign before anything is
        written to it or beside it; a writer also checks it may write there.
        """
        path = Path(path)
        if not path.is_file():
            raise StoreError(f"{path}: no campaign file there")
        if readonly:
            connection = connect(path, readonly=True)
            try:
                _check_schema(path, connection)
            except BaseException:
                connection.close()
                raise
            return cls(path, connection, None)
        probe = connect(path, readonly=True)
        try:
            version = _check_schema(path, probe)
        finally:
            probe.close()
        check_writable(path)
        lock_fd = acquire_lock(path)
        try:
            connection = connect(path)
            if version < SCHEMA_VERSION:
                with transaction(connection, path):
                    migrate(connection, version)
        except BaseException:
            release_lock(lock_fd)
            raise
        return cls(path, connection, lock_fd)

    @property
    def readonly(self) -> bool:
        return self._lock_fd is None

    def close(self) -> None:
        """Close the connection and release the writer lock (idempotent)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None  # type: ignore[assignment]
        if self._lock_fd is not None:
            release_lock(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> CampaignStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- metadata ----------------------------------------------------------

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("SELECT version FROM schema_version").fetchone()[0])

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        self._require_writer()
        with transaction(self._db, self.path):
            self._db.execute(
                "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )

    @property
    def config_json(self) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
        return row[0]

    # -- trials ------------------------------------------------------------

    def add_trials(self, trials: Sequence[NewTrial]) -> list[int]:
        """Insert ``pending`` trials in one transaction; returns their ids in order."""
        self._require_writer()
        now = time.time()
        ids = []
        with transaction(self._db, self.path):
            for trial in trials:
                try:
                    cursor = self._db.execute(
                        "INSERT INTO trials (status, proposer, label, x, plan, params, seed, seconds_propose,"
                        " created_at, origin, fidelity) VALUES ('pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            trial.proposer,
                            trial.label,
                            *_encoded(trial),
                            int(trial.seed),
                            trial.seconds_propose,
                            now,
                            trial.origin,
                            trial.fidelity,
                        ),
                    )
                except sqlite3.IntegrityError as exc:
                    raise StoreError(f"{self.path}: a trial labelled {trial.label!r} already exists") from exc
                ids.append(int(cursor.lastrowid))
        return ids

    def mark_running(self, trial_id: int, worker: str | None = None) -> None:
        """``pending -> running``, on ``worker`` (a name the executor gives it)."""
        self._transition(
            trial_id,
            "pending",
            "UPDATE trials SET status = 'running', started_at = ?, attempts = attempts + 1, worker = ?"
            " WHERE trial_id = ? AND status = 'pending'",
            (time.time(), worker, trial_id),
        )

    def requeue(self, trial_id: int) -> None:
        """``running -> pending``: its worker died before answering; it runs again (the same row)."""
        self._transition(
            trial_id,
            "running",
            "UPDATE trials SET status = 'pending', started_at = NULL WHERE trial_id = ? AND status = 'running'",
            (trial_id,),
        )

    def finish(
        self,
        trial_id: int,
        measurements: Mapping[str, Measurement],
        seconds_merge: float | None,
        seconds_eval: float | None,
        error: str | None = None,
        worker: str | None = None,
        cost: float | None = None,
    ) -> None:
        """``running -> complete`` (``error is None``) or ``running -> failed``.

        ``worker`` (when given) replaces the one named when it started: a
        restarted worker answers under its new name.
        """
        status = "complete" if error is None else "failed"
        self._transition(
            trial_id,
            "running",
            "UPDATE trials SET status = ?, measurements = ?, seconds_merge = ?, seconds_eval = ?,"
            " error = ?, finished_at = ?, worker = COALESCE(?, worker), cost = ?"
            " WHERE trial_id = ? AND status = 'running'",
            (
                status,
                json.dumps({name: m.to_dict() for name, m in measurements.items()}),
                seconds_merge,
                seconds_eval,
                error,
                time.time(),
                worker,
                cost,
                trial_id,
            ),
        )

    def insert_finished(self, trial: NewTrial, measurements: Mapping[str, Measurement], error: str | None) -> int:
        """Insert a trial evaluated elsewhere, already finished, in one transaction."""
        self._require_writer()
        now = time.time()
        with transaction(self._db, self.path):
            cursor = self._db.execute(
                "INSERT INTO trials (status, proposer, label, x, plan, params, seed, measurements, error,"
                " seconds_propose, attempts, created_at, started_at, finished_at, origin, fidelity)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
                (
                    "complete" if error is None else "failed",
                    trial.proposer,
                    trial.label,
                    *_encoded(trial),
                    int(trial.seed),
                    json.dumps({name: m.to_dict() for name, m in measurements.items()}),
                    error,
                    trial.seconds_propose,
                    now,
                    now,
                    now,
                    trial.origin,
                    trial.fidelity,
                ),
            )
        return int(cursor.lastrowid)

    def requeue_running(self) -> list[int]:
        """Turn trials left ``running`` (by a process that died) back into ``pending``."""
        self._require_writer()
        with transaction(self._db, self.path):
            ids = [r[0] for r in self._db.execute("SELECT trial_id FROM trials WHERE status = 'running'")]
            self._db.execute("UPDATE trials SET status = 'pending', started_at = NULL WHERE status = 'running'")
        return ids

    def trials(self, status: str | None = None) -> list[TrialRecord]:
        """All trials (or those with one status), by id.

        A row whose JSON cannot be decoded is skipped (and reported) by a
        read-only store, and refused with a :class:`StoreError` naming it by a writer.
        """
        query = "SELECT * FROM trials" + (" WHERE status = ?" if status else "") + " ORDER BY trial_id"
        cursor = self._db.execute(query, (status,) if status else ())
        columns = [c[0] for c in cursor.description]
        records = []
        for row in cursor.fetchall():
            record = self._decode(dict(zip(columns, row)))
            if record is not None:
                records.append(record)
        return records

    def trial(self, trial_id: int) -> TrialRecord:
        cursor = self._db.execute("SELECT * FROM trials WHERE trial_id = ?", (trial_id,))
        row = cursor.fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no trial {trial_id}")
        record = self._decode(dict(zip([c[0] for c in cursor.description], row)))
        if record is None:
            raise StoreError(f"{self.path}: trial {trial_id}: {self.corrupt_trials[trial_id]}")
        return record

    def _decode(self, row: dict[str, Any]) -> TrialRecord | None:
        try:
            return _record(row)
        except _CorruptRow as exc:
            trial_id = row["trial_id"]
            if not self.readonly:
                raise StoreError(
                    f"{self.path}: trial {trial_id}: {exc}; the run stops rather than build on it "
                    f"(repair or delete that row)"
                ) from None
            if trial_id not in self.corrupt_trials:
                logger.warning("%s: trial %s skipped: %s", self.path, trial_id, exc)
            self.corrupt_trials[trial_id] = str(exc)
            return None

    # -- internals ---------------------------------------------------------

    @property
    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StoreError(f"{self.path}: the store is closed")
        return self._connection

    def _require_writer(self) -> None:
        if self.readonly:
            raise StoreError(f"{self.path}: opened read-only; open it with readonly=False to change it")

    def _transition(self, trial_id: int, expected: str, sql: str, args: tuple) -> None:
        self._require_writer()
        with transaction(self._db, self.path):
            if self._db.execute(sql, args).rowcount != 1:
                row = self._db.execute("SELECT status FROM trials WHERE trial_id = ?", (trial_id,)).fetchone()
                found = "no such trial" if row is None else f"it is {row[0]}"
                raise StoreError(f"{self.path}: trial {trial_id} is not {expected} ({found})")


def _encoded(trial: NewTrial) -> tuple[str | None, str | None, str | None]:
    """The JSON columns ``x``, ``plan`` and ``params`` of a new trial."""
    return (
        None if trial.x is None else json.dumps([float(v) for v in trial.x]),
        None if trial.plan is None else json.dumps(dict(trial.plan)),
        None if trial.params is None else json.dumps(dict(trial.params)),
    )


class _CorruptRow(ValueError):
    """A trial row whose stored JSON cannot be decoded."""


def _json_column(row: dict[str, Any], column: str) -> Any:
    text = row[column]
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        raise _CorruptRow(f"column {column!r} does not hold valid JSON ({exc})") from None


def _record(row: dict[str, Any]) -> TrialRecord:
    x = _json_column(row, "x")
    measurements = _json_column(row, "measurements") or {}
    try:
        decoded = {k: Measurement.from_dict(v) for k, v in measurements.items()}
        x = None if x is None else tuple(float(v) for v in x)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise _CorruptRow(f"malformed x or measurements ({type(exc).__name__}: {exc})") from None
    return TrialRecord(
        trial_id=row["trial_id"],
        status=row["status"],
        proposer=row["proposer"],
        label=row["label"],
        x=x,
        plan=_json_column(row, "plan"),
        params=_json_column(row, "params"),
        seed=row["seed"],
        measurements=decoded,
        seconds_merge=row["seconds_merge"],
        seconds_eval=row["seconds_eval"],
        seconds_propose=row["seconds_propose"],
        error=row["error"],
        attempts=row["attempts"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        # A version-1 file opened read-only has no origin column.
        origin=row["origin"] if "origin" in row else v1_origin(row["proposer"]),
        worker=row.get("worker"),
        fidelity=row.get("fidelity"),
        cost=row.get("cost"),
    )


def _check_schema(path: Path, connection: sqlite3.Connection) -> int:
    try:
        row = connection.execute("SELECT version FROM schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not an mmmo campaign file ({exc})") from exc
    if row is None or int(row[0]) > SCHEMA_VERSION:
        found = None if row is None else row[0]
        raise StoreError(
            f"{path}: campaign schema version {found} is not readable by this mmmo (reads up to {SCHEMA_VERSION})"
        )
    return int(row[0])


def _fill_new_file(connection: sqlite3.Connection, config_json: str, meta: dict[str, Any]) -> None:
    for statement in filter(str.strip, SCHEMA_SQL.split(";")):
        connection.execute(statement)
    connection.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
    connection.execute("INSERT INTO meta VALUES ('config', ?)", (config_json,))
    connection.execute("INSERT INTO meta VALUES ('created_at', ?)", (json.dumps(time.time()),))
    for key, value in meta.items():
        connection.execute("INSERT INTO meta VALUES (?, ?)", (key, json.dumps(value)))
