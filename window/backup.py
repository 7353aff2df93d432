"""``window backup DIR`` and ``window restore DIR``: the relay's state, copied safely.

A backup is a directory holding

* ``window.db``: the store (revoked ids, audit log, curtain and privacy mode per site), copied
  with SQLite's online backup API, so it is consistent even while the relay writes;
* ``secret``: the generated HS256 signing secret, if the data dir holds it (owner-only,
  0600): without it, the tokens the relay issued would not be accepted after a restore;
* ``manifest.json``: when, the schema version, and a SHA-256 of each file.

A secret given in the config or ``$WINDOW_SECRET``, and EdDSA/ES256 key files, live outside
the data dir: they are not copied (the manifest says so), back them up with the config.

``restore`` checks the manifest's checksums and the database's integrity, then puts the
files into the data dir (refusing to overwrite a store unless ``--force``, which keeps the
old one aside). The relay started on it migrates an older schema forward as usual.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from .auth.keys import SECRET_FILE
from .config import Config
from .errors import ConfigError
from .store import DB_FILE, SCHEMA_VERSION, copy_database, schema_version

MANIFEST = "manifest.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _copy_private(src: Path, dest: Path) -> None:
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, src.open("rb") as fh:
        shutil.copyfileobj(fh, out)
    dest.chmod(0o600)


def backup(cfg: Config, dest: Path) -> dict[str, Any]:
    """Write a backup of ``cfg``'s data dir into ``dest`` (new or empty); its manifest."""
    data = cfg.data_path
    db_path = data / DB_FILE
    if not db_path.exists():
        raise ConfigError(f"{db_path}: no store to back up (wrong --data or --config?)")
    if dest.exists() and any(dest.iterdir()):
        raise ConfigError(f"{dest}: not empty; give a new directory")
    dest.mkdir(parents=True, exist_ok=True)
    dest.chmod(0o700)
    src = sqlite3.connect(db_path)
    try:
        src.execute("PRAGMA busy_timeout=5000")
        version = schema_version(src)
        copy_database(src, dest / DB_FILE)
    finally:
        src.close()
    files = {DB_FILE: _sha256(dest / DB_FILE)}
    secret = data / SECRET_FILE
    if cfg.auth.algorithm == "HS256" and not cfg.auth.secret and secret.exists():
        _copy_private(secret, dest / SECRET_FILE)
        files[SECRET_FILE] = _sha256(dest / SECRET_FILE)
        secret_note = "copied from the data dir"
    elif cfg.auth.algorithm == "HS256":
        secret_note = "from the config or $WINDOW_SECRET: not copied, keep it with the config"
    else:
        secret_note = f"{cfg.auth.algorithm} key files: not copied, keep them with the config"
    manifest = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "schema_version": version, "files": files, "secret": secret_note,
                "source": str(data.resolve())}
    fd = os.open(dest / MANIFEST, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")
    return manifest


def restore(cfg: Config, src: Path, *, force: bool = False) -> dict[str, Any]:
    """Put the backup in ``src`` into ``cfg``'s data dir; the backup's manifest."""
    try:
        manifest = json.loads((src / MANIFEST).read_text())
        files: dict[str, str] = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(f"{src}: not a backup (no readable {MANIFEST})") from None
    for name, digest in files.items():
        if name not in (DB_FILE, SECRET_FILE):
            raise ConfigError(f"{src}/{MANIFEST}: unexpected file {name!r}")
        if not (src / name).exists() or _sha256(src / name) != digest:
            raise ConfigError(f"{src}/{name}: missing or changed since the backup (checksum)")
    db = sqlite3.connect(f"file:{src / DB_FILE}?mode=ro", uri=True)
    try:
        ok = db.execute("PRAGMA integrity_check").fetchone()[0]
        version = schema_version(db)
    finally:
        db.close()
    if ok != "ok":
        raise ConfigError(f"{src}/{DB_FILE}: damaged ({ok})")
    if version > SCHEMA_VERSION:
        raise ConfigError(f"{src}: made by a newer release (schema {version}); restore it there")
    data = cfg.data_path
    data.mkdir(parents=True, exist_ok=True)
    target = data / DB_FILE
    if target.exists():
        if not force:
            raise ConfigError(f"{target} exists: stop the relay and pass --force to replace it "
                              "(the old one is kept beside it)")
        stamp = time.strftime("%Y%m%dT%H%M%S")
        target.replace(data / f"{DB_FILE}.before-restore-{stamp}")
        if (data / SECRET_FILE).exists() and SECRET_FILE in files:
            (data / SECRET_FILE).replace(data / f"{SECRET_FILE}.before-restore-{stamp}")
    for suffix in ("-wal", "-shm"):  # the old file's journal must not be applied to this one
        (data / (DB_FILE + suffix)).unlink(missing_ok=True)
    _copy_private(src / DB_FILE, target)
    if SECRET_FILE in files:
        _copy_private(src / SECRET_FILE, data / SECRET_FILE)
    return dict(manifest)


def add_parsers(sub: Any, add_config_flags: Any) -> None:
    """The ``backup`` and ``restore`` subcommands (``window.cli`` calls this)."""
    b = sub.add_parser("backup", help="copy the store and the secret into a new directory")
    b.add_argument("dir", metavar="DIR")
    add_config_flags(b)
    r = sub.add_parser("restore", help="put a backup made by `window backup` into the data dir")
    r.add_argument("dir", metavar="DIR")
    r.add_argument("--force", action="store_true",
                   help="replace an existing store (the relay must be stopped)")
    add_config_flags(r)


def cmd_backup(args: argparse.Namespace, cfg: Config) -> int:
    m = backup(cfg, Path(args.dir))
    print(f"backup in {args.dir}: {', '.join(m['files'])} (schema {m['schema_version']}); "
          f"secret: {m['secret']}", file=sys.stderr)
    return 0


def cmd_restore(args: argparse.Namespace, cfg: Config) -> int:
    m = restore(cfg, Path(args.dir), force=args.force)
    print(f"restored {', '.join(m['files'])} from {args.dir} (made {m['created']}) into "
          f"{cfg.data_path}", file=sys.stderr)
    return 0
