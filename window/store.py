"""The SQLite file in the data dir: revoked token ids, the operators' audit log, and settings
that must survive a restart (curtain, privacy mode per site).

The file carries its schema version (``PRAGMA user_version``); ``Store`` migrates an older
file forward on open (after copying it aside with SQLite's online backup), and refuses a file
written by a newer release. What is kept and for how long is ``Store.prune``'s business
(``window.retention`` runs it); ``window.backup`` copies the file and the secret.

Calls are short and synchronous; the server makes them from a worker thread
(``asyncio.to_thread``) so the event loop never waits on the disk.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError

log = logging.getLogger("window.store")

DB_FILE = "window.db"

# The schema of release 1 (version 1, then unversioned: user_version 0). Kept as it was: the
# migrations start from it, and the tests build a release-1 file from it.
SCHEMA_V1 = """
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

# Each step takes the file from version N to N + 1 (statements run in one transaction).
MIGRATIONS: dict[int, list[str]] = {
    # 2: retention. The audit log stays append-only except for entries older than the
    # horizon that pruning sets (one row); indexes for the pruning queries.
    1: [
        "CREATE TABLE audit_horizon (id INTEGER PRIMARY KEY CHECK (id = 1), before REAL NOT NULL)",
        "DROP TRIGGER audit_no_delete",
        "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
        "WHEN OLD.at >= COALESCE((SELECT before FROM audit_horizon WHERE id = 1), 0) "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only (only entries past "
        "retention are pruned)'); END",
        "CREATE INDEX audit_at ON audit (at)",
        "CREATE INDEX revoked_expiry ON revoked (expires_at)",
    ],
}
SCHEMA_VERSION = 1 + len(MIGRATIONS)


def schema_version(db: sqlite3.Connection) -> int:
    """The file's version: ``user_version``, or 1 for an unversioned release-1 file."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version == 0 and db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit'").fetchone():
        return 1
    return version


def _statements(script: str) -> list[str]:
    """The statements of ``script`` (triggers included), for ``execute`` in a transaction."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    return [x for x in out if x.strip(" ;\n")]


def copy_database(src: sqlite3.Connection, dest: Path) -> None:
    """A consistent copy of ``src`` at ``dest`` with SQLite's online backup API (safe while
    the relay writes), owner-only."""
    tmp = dest.with_name(dest.name + ".part")
    tmp.unlink(missing_ok=True)
    out = sqlite3.connect(tmp)
    try:
        src.backup(out)
    finally:
        out.close()
    tmp.chmod(0o600)
    tmp.replace(dest)


@dataclass(frozen=True)
class Pruned:
    audit: int  # audit entries deleted
    revoked: int  # revoked ids dropped
    audit_before: float | None  # entries older than this (Unix time) are gone; None: kept


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
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute("PRAGMA journal_mode=WAL")
        self.migrated_from = self._migrate()

    def _migrate(self) -> int | None:
        """Bring the file to ``SCHEMA_VERSION``; the version it had if it was older."""
        db = self._db
        version = schema_version(db)
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"{self.path}: written by a newer release (schema {version}; this one knows up "
                f"to {SCHEMA_VERSION}): run that release, or restore a backup")
        if version == SCHEMA_VERSION:
            return None
        if version:  # kept aside first, so that an upgrade can be undone by hand
            aside = self.path.with_name(f"{self.path.name}.schema{version}.bak")
            if not aside.exists():
                copy_database(db, aside)
        db.execute("BEGIN IMMEDIATE")  # one process migrates; another waits (busy_timeout)
        try:
            version = schema_version(db)
            if version == 0:  # a new file
                for stmt in _statements(SCHEMA_V1):
                    db.execute(stmt)
            for step in range(max(version, 1), SCHEMA_VERSION):
                for stmt in MIGRATIONS[step]:
                    db.execute(stmt)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if not version:
            return None
        log.info("store migrated", extra={"path": str(self.path), "from_version": version,
                                          "to_version": SCHEMA_VERSION})
        return version

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # revocation -------------------------------------------------------------------------------
    def revoke(self, jti: str, expires_at: int | None = None, reason: str = "") -> None:
        """Revoke ``jti``, keeping its token's ``exp`` for retention: as given, else from
        the token's ``token.mint`` audit entry; unknown: ``NULL`` (see ``prune``)."""
        if expires_at is None:
            expires_at = self.token_expiry(jti)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO revoked (jti, revoked_at, expires_at, reason) "
                "VALUES (?, ?, ?, ?)",
                (jti, time.time(), expires_at, reason),
            )

    def token_expiry(self, jti: str) -> int | None:
        """The ``exp`` of a token this relay minted (its ``token.mint`` audit entry)."""
        with self._lock:
            row = self._db.execute(
                "SELECT detail FROM audit WHERE action = 'token.mint' AND target = ? "
                "ORDER BY id DESC LIMIT 1", (jti,)).fetchone()
        if row is None:
            return None
        exp = json.loads(row[0]).get("expires_at")
        return exp if isinstance(exp, int) else None

    def prune(self, *, audit_keep_s: int | None, leeway_s: int, unknown_expiry_s: int,
              now: float | None = None) -> Pruned:
        """Delete what the retention policy no longer keeps.

        * revoked ids whose token has expired more than ``leeway_s`` ago (a token past that
          is refused for its ``exp`` anyway); an id whose token's expiry is not known (a
          token minted elsewhere, release 1) is kept ``unknown_expiry_s`` (``auth.max_ttl``,
          the longest a token may live) after its revocation;
        * audit entries older than ``audit_keep_s`` (``None``: kept for ever). The audit log
          stays append-only for everything younger: the trigger refuses other deletes.
        """
        now = time.time() if now is None else now
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                revoked = db.execute(
                    "DELETE FROM revoked WHERE COALESCE(expires_at, revoked_at + ?) + ? < ?",
                    (unknown_expiry_s, leeway_s, now)).rowcount
                audit, before = 0, None
                if audit_keep_s is not None:
                    before = now - audit_keep_s
                    db.execute("INSERT OR REPLACE INTO audit_horizon (id, before) VALUES (1, ?)",
                               (before,))
                    audit = db.execute("DELETE FROM audit WHERE at < ?", (before,)).rowcount
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return Pruned(audit=audit, revoked=revoked, audit_before=before)

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
