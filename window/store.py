"""The SQLite file in the data dir: revoked token ids, the operators' audit log, and settings
that must survive a restart (curtain, privacy mode per site).

Calls are short and synchronous; the server makes them from a worker thread
(``asyncio.to_thread``) so the event loop never waits on the disk.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DB_FILE = "window.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS revoked (
    jti TEXT PRIMARY KEY,
    revoked_at REAL NOT NULL,
    expires_at INTEGER,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}',
    remote TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS settings (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
"""


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    remote: str


class Store:
    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / DB_FILE
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # revocation -------------------------------------------------------------------------------
    def revoke(self, jti: str, expires_at: int | None = None, reason: str = "") -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO revoked (jti, revoked_at, expires_at, reason) "
                "VALUES (?, ?, ?, ?)",
                (jti, time.time(), expires_at, reason),
            )

    def revoked_ids(self) -> set[str]:
        with self._lock:
            return {row[0] for row in self._db.execute("SELECT jti FROM revoked")}

    def data_version(self) -> int:
        """Changes when another connection (such as `window token revoke`) wrote."""
        with self._lock:
            return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    # audit ------------------------------------------------------------------------------------
    def audit(self, actor: str, action: str, target: str = "", detail: dict[str, Any] | None = None,
              remote: str = "") -> int:
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO audit (at, actor, action, target, detail, remote) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), actor, action, target, json.dumps(detail or {}), remote),
            )
            return int(cur.lastrowid or 0)

    def audit_log(self, limit: int = 200, before_id: int | None = None) -> list[AuditEntry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, at, actor, action, target, detail, remote FROM audit "
                "WHERE id < ? ORDER BY id DESC LIMIT ?",
                (before_id if before_id is not None else 2**62, limit),
            ).fetchall()
        return [AuditEntry(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6]) for r in rows]

    # settings ---------------------------------------------------------------------------------
    def set(self, scope: str, key: str, value: Any) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO settings (scope, key, value) VALUES (?, ?, ?)",
                (scope, key, json.dumps(value)),
            )

    def settings(self, scope: str) -> dict[str, Any]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, value FROM settings WHERE scope = ?", (scope,)).fetchall()
        return {k: json.loads(v) for k, v in rows}
