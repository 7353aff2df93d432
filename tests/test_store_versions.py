"""The store across releases: a release-1 file migrates forward on start and keeps what it
held; a file from a newer release is refused; `window backup` and `window restore` give a
relay that accepts the tokens it issued and keeps curtain, privacy modes and audit log."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from servers import running, small_config

from window.auth.keys import SECRET_FILE
from window.errors import ConfigError
from window.store import DB_FILE, SCHEMA_VERSION, Store

RELEASE_1 = (Path(__file__).parent / "fixtures" / "store_release1.sql").read_text()


def release1_data_dir(data: Path) -> None:
    """A data dir as release 1 left it: its schema, a curtain down, a privacy mode, audit
    entries and a revoked id without its token's expiry."""
    data.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(data / DB_FILE)
    db.executescript(RELEASE_1)
    now = time.time()
    db.executemany("INSERT INTO settings (scope, key, value) VALUES (?, ?, ?)", [
        ("site:bochum", "paused", "true"), ("site:tsukuba", "mode", '"faces"')])
    db.executemany("INSERT INTO audit (at, actor, action, target) VALUES (?, ?, ?, ?)", [
        (now - 3600, "admin:ops", "curtain.down", "bochum"),
        (now - 60, "admin:ops", "privacy.set", "tsukuba")])
    db.execute("INSERT INTO revoked (jti, revoked_at, reason) VALUES ('old-jti', ?, 'lost')",
               (now - 60,))
    db.commit()
    db.close()
    (data / SECRET_FILE).write_text("s" * 64 + "\n")
    (data / SECRET_FILE).chmod(0o600)


def test_release1_file_migrates_forward_and_keeps_its_rows(tmp_path: Path) -> None:
    release1_data_dir(tmp_path)
    store = Store(tmp_path)
    try:
        assert store.migrated_from == 1
        assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.settings("site:bochum") == {"paused": True}
        assert store.settings("site:tsukuba") == {"mode": "faces"}
        assert [e.action for e in store.audit_log()] == ["privacy.set", "curtain.down"]
        assert store.revoked_ids() == {"old-jti"}
        # the audit log is still append-only for entries within retention
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store._db.execute("DELETE FROM audit")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store._db.execute("UPDATE audit SET actor = 'x'")
    finally:
        store.close()
    # the file as it was is kept aside, still release 1
    aside = tmp_path / f"{DB_FILE}.schema1.bak"
    old = sqlite3.connect(aside)
    assert old.execute("PRAGMA user_version").fetchone()[0] == 0
    assert old.execute("SELECT count(*) FROM audit").fetchone()[0] == 2
    old.close()
    assert stat.S_IMODE(aside.stat().st_mode) == 0o600
    # opening again is a no-op
    again = Store(tmp_path)
    assert again.migrated_from is None
    again.close()


def test_a_file_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    Store(tmp_path).close()
    db = sqlite3.connect(tmp_path / DB_FILE)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(ConfigError, match="newer release"):
        Store(tmp_path)


async def test_relay_started_on_a_release1_dir_keeps_curtain_modes_and_revocations(
        tmp_path: Path) -> None:
    release1_data_dir(tmp_path)
    async with running(small_config(tmp_path)) as server:
        assert server.relay.feed("bochum").paused
        assert str(server.relay.feed("tsukuba").privacy.mode) == "faces"
        assert "old-jti" in server.store.revoked_ids()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINDOW_")}
    return subprocess.run([sys.executable, "-m", "window", *args], capture_output=True,
                          text=True, timeout=60, env=env)


async def test_backup_then_restore_gives_a_relay_that_accepts_its_tokens(tmp_path: Path) -> None:
    live, restored, bk = tmp_path / "live", tmp_path / "restored", tmp_path / "backup"
    async with running(small_config(live)) as server, aiohttp.ClientSession() as http:
        admin = (await asyncio.to_thread(_cli, "token", "create", "--role", "admin",
                                         "--subject", "ops", "--data", str(live))).stdout.strip()
        head = {"Authorization": f"Bearer {admin}"}
        api = server.url + "/api"
        async with http.post(f"{api}/sites/bochum/curtain", json={"down": True},
                             headers=head) as r:
            assert r.status == 200
        async with http.put(f"{api}/sites/tsukuba/privacy", json={"mode": "faces"},
                            headers=head) as r:
            assert r.status == 200
        async with http.post(f"{api}/tokens", json={"role": "viewer", "ttl": "1h"},
                             headers=head) as r:
            assert r.status == 201
            lost = await r.json()
        async with http.delete(f"{api}/tokens/{lost['jti']}", json={"reason": "photographed"},
                               headers=head) as r:
            assert r.status == 200
        # while the relay runs (and writes): the online backup
        done = await asyncio.to_thread(_cli, "backup", str(bk), "--data", str(live))
        assert done.returncode == 0, done.stderr
        async with http.post(f"{api}/sites/bochum/curtain", json={"down": False},
                             headers=head) as r:  # after the backup: not in it
            assert r.status == 200
    assert {p.name for p in bk.iterdir()} == {DB_FILE, "manifest.json", SECRET_FILE}
    assert stat.S_IMODE((bk / SECRET_FILE).stat().st_mode) == 0o600
    assert (bk / SECRET_FILE).read_bytes() == (live / SECRET_FILE).read_bytes()

    done = _cli("restore", str(bk), "--data", str(restored))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((restored / SECRET_FILE).stat().st_mode) == 0o600
    again = _cli("restore", str(bk), "--data", str(restored))
    assert again.returncode == 2 and "--force" in again.stderr  # never overwrites silently

    async with running(small_config(restored)) as server, aiohttp.ClientSession() as http:
        head = {"Authorization": f"Bearer {admin}"}
        async with http.get(f"{server.url}/api/sites/bochum", headers=head) as r:
            assert r.status == 200  # a token the old relay issued
            assert (await r.json())["paused"] is True
        assert str(server.relay.feed("tsukuba").privacy.mode) == "faces"
        async with http.get(f"{server.url}/api/audit", headers=head) as r:
            actions = [e["action"] for e in (await r.json())["entries"]]
        assert {"curtain.down", "privacy.set", "token.mint", "token.revoke"} <= set(actions)
        assert "curtain.up" not in actions
        async with http.get(f"{server.url}/api/sites/bochum",
                            headers={"Authorization": f"Bearer {lost['token']}"}) as r:
            assert r.status == 401  # still revoked
            assert "revoked" in await r.text()


def test_restore_refuses_a_changed_backup(tmp_path: Path) -> None:
    live, bk = tmp_path / "live", tmp_path / "backup"
    Store(live).close()
    assert _cli("backup", str(bk), "--data", str(live)).returncode == 0
    with (bk / DB_FILE).open("ab") as fh:
        fh.write(b"x")
    done = _cli("restore", str(bk), "--data", str(tmp_path / "new"))
    assert done.returncode == 2 and "checksum" in done.stderr
    assert not (tmp_path / "new" / DB_FILE).exists()
