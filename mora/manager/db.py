"""The manager's history in SQLite: pushed deployments, apply runs and their log lines.

Only what is safe to keep in a plain file is stored here: project sources (meant to be shared),
change sets (names only), statuses and progress lines (secret values masked before they get
here). Values live in the site's encrypted store, never in this database.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS deployments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    pushed_at TEXT NOT NULL,
    digest TEXT NOT NULL,
    files TEXT NOT NULL,
    status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment INTEGER NOT NULL REFERENCES deployments(id),
    project TEXT NOT NULL,
    kind TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS run_log (
    run INTEGER NOT NULL REFERENCES runs(id),
    seq INTEGER NOT NULL,
    elapsed REAL NOT NULL,
    service TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (run, seq)
);
"""


def now() -> str:
    """UTC, to the second: what the pages show."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Deployment:
    id: int
    project: str
    pushed_at: str
    digest: str
    files: dict[str, str]
    status: str  # pushed | applying | applied | superseded


@dataclass
class Run:
    id: int
    deployment: int
    project: str
    kind: str  # apply | answer
    started_at: str
    finished_at: str | None
    status: str  # queued | running | ok | failed
    summary: str


@dataclass
class LogLine:
    seq: int
    elapsed: float
    service: str
    status: str
    detail: str


class Database:
    """One SQLite file; one connection guarded by a lock (the manager's threads share it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        with self._tx() as c:
            c.execute("PRAGMA journal_mode=WAL")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                with self._tx() as c:
                    c.execute(statement)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- deployments ------------------------------------------------------------------------

    def add_deployment(self, project: str, digest: str, files: dict[str, str]) -> int:
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO deployments (project, pushed_at, digest, files, status) "
                "VALUES (?, ?, ?, ?, 'pushed')",
                (project, now(), digest, json.dumps(files, sort_keys=True)),
            )
            return int(cur.lastrowid or 0)

    def set_deployment_status(self, dep: int, status: str) -> None:
        with self._tx() as c:
            if status == "applied":  # one applied deployment per project: the current one
                c.execute(
                    "UPDATE deployments SET status = 'superseded' WHERE status = 'applied' "
                    "AND project = (SELECT project FROM deployments WHERE id = ?) AND id != ?",
                    (dep, dep),
                )
            c.execute("UPDATE deployments SET status = ? WHERE id = ?", (status, dep))

    def deployment(self, dep: int) -> Deployment | None:
        with self._tx() as c:
            row = c.execute("SELECT * FROM deployments WHERE id = ?", (dep,)).fetchone()
        return _deployment(row) if row else None

    def deployments(self, project: str | None = None, limit: int = 100) -> list[Deployment]:
        with self._tx() as c:
            if project is None:
                rows = c.execute(
                    "SELECT * FROM deployments ORDER BY id DESC LIMIT ?", (limit,)
                ).fetchall()
            else:
                rows = c.execute(
                    "SELECT * FROM deployments WHERE project = ? ORDER BY id DESC LIMIT ?",
                    (project, limit),
                ).fetchall()
        return [_deployment(r) for r in rows]

    def projects(self) -> list[str]:
        with self._tx() as c:
            rows = c.execute("SELECT DISTINCT project FROM deployments ORDER BY project").fetchall()
        return [str(r[0]) for r in rows]

    def current(self, project: str) -> Deployment | None:
        """The deployment that runs: the last applied, else the last pushed (nothing applied)."""
        with self._tx() as c:
            row = c.execute(
                "SELECT * FROM deployments WHERE project = ? AND status = 'applied' "
                "ORDER BY id DESC LIMIT 1",
                (project,),
            ).fetchone()
            if row is None:
                row = c.execute(
                    "SELECT * FROM deployments WHERE project = ? ORDER BY id DESC LIMIT 1",
                    (project,),
                ).fetchone()
        return _deployment(row) if row else None

    # -- runs -------------------------------------------------------------------------------

    def add_run(self, dep: int, project: str, kind: str) -> int:
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO runs (deployment, project, kind, started_at, status) "
                "VALUES (?, ?, ?, ?, 'queued')",
                (dep, project, kind, now()),
            )
            return int(cur.lastrowid or 0)

    def set_run(self, run: int, status: str, summary: str | None = None) -> None:
        finished = now() if status in ("ok", "failed") else None
        with self._tx() as c:
            c.execute(
                "UPDATE runs SET status = ?, finished_at = COALESCE(?, finished_at), "
                "summary = COALESCE(?, summary) WHERE id = ?",
                (status, finished, summary, run),
            )

    def run(self, run: int) -> Run | None:
        with self._tx() as c:
            row = c.execute("SELECT * FROM runs WHERE id = ?", (run,)).fetchone()
        return _run(row) if row else None

    def runs(self, limit: int = 100) -> list[Run]:
        with self._tx() as c:
            rows = c.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [_run(r) for r in rows]

    def unfinished_runs(self) -> list[Run]:
        with self._tx() as c:
            rows = c.execute(
                "SELECT * FROM runs WHERE status IN ('queued', 'running') ORDER BY id"
            ).fetchall()
        return [_run(r) for r in rows]

    def log(self, run: int, service: str, status: str, detail: str, elapsed: float) -> None:
        with self._tx() as c:
            seq = c.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM run_log WHERE run = ?", (run,)
            ).fetchone()[0]
            c.execute(
                "INSERT INTO run_log (run, seq, elapsed, service, status, detail) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (run, seq, round(elapsed, 1), service, status, detail),
            )

    def lines(self, run: int, after: int = 0) -> list[LogLine]:
        with self._tx() as c:
            rows = c.execute(
                "SELECT seq, elapsed, service, status, detail FROM run_log "
                "WHERE run = ? AND seq > ? ORDER BY seq",
                (run, after),
            ).fetchall()
        return [LogLine(int(r[0]), float(r[1]), str(r[2]), str(r[3]), str(r[4])) for r in rows]


def _deployment(row: sqlite3.Row) -> Deployment:
    return Deployment(
        int(row["id"]),
        str(row["project"]),
        str(row["pushed_at"]),
        str(row["digest"]),
        json.loads(row["files"]),
        str(row["status"]),
    )


def _run(row: sqlite3.Row) -> Run:
    return Run(
        int(row["id"]),
        int(row["deployment"]),
        str(row["project"]),
        str(row["kind"]),
        str(row["started_at"]),
        row["finished_at"],
        str(row["status"]),
        str(row["summary"]),
    )
