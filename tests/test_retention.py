"""Retention: old audit entries and revoked ids of long-expired tokens go, by policy, by
themselves, with a log line and an audit entry; everything younger stays, append-only."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path

import aiohttp
import pytest
from servers import running, small_config

from window.retention import prune_once
from window.store import DB_FILE, Store

DAY = 86400


def _old_audit(path: Path, at: float, action: str) -> None:
    db = sqlite3.connect(path / DB_FILE)
    db.execute("INSERT INTO audit (at, actor, action) VALUES (?, 'admin:ops', ?)", (at, action))
    db.commit()
    db.close()


def _revoked_at(path: Path, jti: str, revoked_at: float, expires_at: int | None) -> None:
    db = sqlite3.connect(path / DB_FILE)
    db.execute("INSERT INTO revoked (jti, revoked_at, expires_at) VALUES (?, ?, ?)",
               (jti, revoked_at, expires_at))
    db.commit()
    db.close()


def test_policy_keeps_what_it_must_and_drops_the_rest(tmp_path: Path) -> None:
    cfg = small_config(tmp_path, retention={"audit_log": "400d"},
                       auth={"leeway_s": 30, "max_ttl": "30d"})
    store = Store(tmp_path)
    now = time.time()
    _old_audit(tmp_path, now - 401 * DAY, "curtain.down")  # past retention
    _old_audit(tmp_path, now - 399 * DAY, "privacy.set")  # within
    _revoked_at(tmp_path, "long-expired", now - 10 * DAY, int(now - 5 * DAY))
    _revoked_at(tmp_path, "in-leeway", now - 60, int(now - 10))  # still within leeway
    _revoked_at(tmp_path, "valid", now - 60, int(now + DAY))
    _revoked_at(tmp_path, "unknown-recent", now - 29 * DAY, None)  # < max_ttl ago
    _revoked_at(tmp_path, "unknown-old", now - 31 * DAY, None)
    try:
        pruned = prune_once(store, cfg, now=now)
        assert (pruned.audit, pruned.revoked) == (1, 2)
        assert store.revoked_ids() == {"in-leeway", "valid", "unknown-recent"}
        actions = [e.action for e in store.audit_log()]
        assert actions == ["audit.pruned", "privacy.set"]
        assert store.audit_log()[0].detail["entries"] == 1
        # within retention the log is still append-only
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store._db.execute("DELETE FROM audit WHERE action = 'privacy.set'")
        # a second pass has nothing to do and says nothing in the audit log
        assert prune_once(store, cfg, now=now).audit == 0
        assert len(store.audit_log()) == 2
    finally:
        store.close()


def test_forever_keeps_every_audit_entry(tmp_path: Path) -> None:
    cfg = small_config(tmp_path, retention={"audit_log": "forever"})
    store = Store(tmp_path)
    _old_audit(tmp_path, time.time() - 5000 * DAY, "curtain.down")
    try:
        assert prune_once(store, cfg).audit == 0
        assert [e.action for e in store.audit_log()] == ["curtain.down"]
    finally:
        store.close()


def test_bad_retention_is_refused_with_its_key(tmp_path: Path) -> None:
    from window.errors import ConfigError

    with pytest.raises(ConfigError, match="retention.audit_log"):
        small_config(tmp_path, retention={"audit_log": "a year"})


async def test_revoking_keeps_the_tokens_expiry_for_retention(tmp_path: Path) -> None:
    async with running(small_config(tmp_path)) as server, aiohttp.ClientSession() as http:
        from window.auth.roles import Role
        from window.auth.tokens import mint

        admin, _ = mint(server.cfg, server.keys, role=Role.ADMIN, ttl_s=600)
        head = {"Authorization": f"Bearer {admin}"}
        async with http.post(f"{server.url}/api/tokens", json={"role": "viewer", "ttl": "2h"},
                             headers=head) as r:
            minted = await r.json()
        async with http.delete(f"{server.url}/api/tokens/{minted['jti']}", headers=head) as r:
            assert r.status == 200
        row = server.store._db.execute("SELECT expires_at FROM revoked WHERE jti = ?",
                                       (minted["jti"],)).fetchone()
        assert row[0] == minted["expires_at"]


async def test_the_relay_prunes_by_itself_and_logs_it(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    Store(tmp_path).close()
    now = time.time()
    _old_audit(tmp_path, now - 3 * DAY, "curtain.down")
    _revoked_at(tmp_path, "gone", now - 3 * DAY, int(now - 2 * DAY))
    cfg = small_config(tmp_path, retention={"audit_log": "2d", "every": "1s"})
    caplog.set_level(logging.INFO, logger="window.retention")
    def count() -> int:
        return len([r for r in caplog.records if r.getMessage() == "retention pass"])

    async with running(cfg) as server:
        # the pass's log line follows its deletions (on the pass's thread): wait for both
        for _ in range(200):
            if count() and not server.store.revoked_ids() and any(
                    e.action == "audit.pruned" for e in server.store.audit_log()):
                break
            await asyncio.sleep(0.05)
        assert server.store.revoked_ids() == set()
        assert [e.action for e in server.store.audit_log()] == ["audit.pruned"]
        passes = [r for r in caplog.records if r.getMessage() == "retention pass"]
        assert passes and passes[0].audit_deleted == 1 and passes[0].revoked_dropped == 1

        for _ in range(200):  # and again, on its own schedule (every 1 s; a busy CI is slow)
            if count() >= 2:
                break
            await asyncio.sleep(0.05)
        assert count() >= 2
