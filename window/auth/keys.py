"""Signing and verification keys: one algorithm, from config, environment or the data dir."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..errors import ConfigError

SECRET_FILE = "secret"


@dataclass(frozen=True)
class KeySet:
    algorithm: str
    verify_key: str | bytes
    signing_key: str | bytes | None  # None: this host may verify but not mint


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(f"auth.{what}: cannot read {path!r}: {e.strerror}") from None


def load_secret(data_dir: Path) -> bytes:
    """The HS256 secret kept in the data dir, created (owner-only) on first use."""
    path = data_dir / SECRET_FILE
    if path.exists():
        secret = path.read_text().strip()
        if len(secret) < 32:
            raise ConfigError(f"{path}: the stored secret is too short")
        return secret.encode()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)  # 256 bits
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value.encode()


def load_keys(cfg: Config) -> KeySet:
    a = cfg.auth
    if a.algorithm == "HS256":
        secret = a.secret.encode() if a.secret else load_secret(cfg.data_path)
        if len(secret) < 32:
            raise ConfigError("auth.secret: use at least 32 characters (256 bits)")
        return KeySet("HS256", secret, secret)
    public = _read(a.public_key_file, "public_key_file")
    private = _read(a.private_key_file, "private_key_file") if a.private_key_file else None
    return KeySet(a.algorithm, public, private)
