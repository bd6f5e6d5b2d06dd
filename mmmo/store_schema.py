"""The campaign file's schema, its version, and the migrations from older versions.

Version history:

- 1: the first release.
- 2: adds ``origin`` (``reference``, ``searched`` or ``external``: who made
  the trial), ``worker`` (which worker evaluated it), ``fidelity`` and
  ``cost``. Version 1 inferred the origin from the proposer's name; the
  migration writes that inference down once, and nothing infers it again.

A migration runs in one transaction when a file is opened for writing, so a
file is either wholly of the old version or wholly of the new one. A file
opened read-only is read as it is: :func:`v1_origin` gives the origin its
rows would get.
"""

from __future__ import annotations

import sqlite3
from typing import Literal

__all__ = ["ORIGINS", "SCHEMA_SQL", "SCHEMA_VERSION", "Origin", "migrate", "v1_origin"]

SCHEMA_VERSION = 2

Origin = Literal["reference", "searched", "external"]
ORIGINS: tuple[str, ...] = ("reference", "searched", "external")

# Columns added by version 2, in the form ``ALTER TABLE .. ADD COLUMN`` takes
# (a NOT NULL column needs a default there; inserts always name the origin).
_V2_COLUMNS = (
    "origin TEXT NOT NULL DEFAULT 'searched' CHECK (origin IN ('reference', 'searched', 'external'))",
    "worker TEXT",
    "fidelity REAL",
    "cost REAL",
)

SCHEMA_SQL = f"""
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE trials (
    trial_id INTEGER PRIMARY KEY AUTOINCREMENT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'complete', 'failed')),
    proposer TEXT NOT NULL,
    label TEXT UNIQUE,
    x TEXT,
    plan TEXT,
    params TEXT,
    seed INTEGER NOT NULL,
    measurements TEXT NOT NULL DEFAULT '{{}}',
    seconds_merge REAL,
    seconds_eval REAL,
    seconds_propose REAL,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    {(',' + chr(10) + '    ').join(_V2_COLUMNS)}
);
CREATE INDEX trials_status ON trials (status);
"""

# The proposers of the search loop in version 1; no other name was ever
# stored for a trial of the loop, so this list is closed.
_V1_LOOP_PROPOSERS = frozenset({"sobol", "random", "qlognehvi", "qlognparego"})


def v1_origin(proposer: str) -> Origin:
    """The origin of a version-1 row, from the rule version 1 used."""
    if proposer == "reference":
        return "reference"
    return "searched" if proposer in _V1_LOOP_PROPOSERS else "external"


def migrate(connection: sqlite3.Connection, version: int) -> None:
    """Bring a file of schema ``version`` to :data:`SCHEMA_VERSION`, inside the caller's transaction."""
    if version < 2:
        for column in _V2_COLUMNS:
            connection.execute(f"ALTER TABLE trials ADD COLUMN {column}")
        loop = sorted(_V1_LOOP_PROPOSERS)
        connection.execute(
            "UPDATE trials SET origin = CASE WHEN proposer = 'reference' THEN 'reference'"
            f" WHEN proposer IN ({', '.join('?' * len(loop))}) THEN 'searched' ELSE 'external' END",
            loop,
        )
    connection.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
