"""Tokens minted by another system: EdDSA / ES256 public keys verify, nothing else does."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from window.auth.keys import load_keys
from window.auth.roles import Role
from window.auth.tokens import mint, verify
from window.config import load
from window.errors import ConfigError, Unauthorized


def write_keys(tmp: Path, algorithm: str) -> tuple[Path, Path]:
    key = ed25519.Ed25519PrivateKey.generate() if algorithm == "EdDSA" else \
        ec.generate_private_key(ec.SECP256R1())
    private = tmp / "private.pem"
    public = tmp / "public.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256"])
def test_public_key_algorithms(tmp_path: Path, algorithm: str) -> None:
    private, public = write_keys(tmp_path, algorithm)
    cfg = load(None, env={}, flags={"server": {"data_dir": str(tmp_path)}, "auth": {
        "algorithm": algorithm, "public_key_file": str(public),
        "private_key_file": str(private)}})
    keys = load_keys(cfg)
    token, grant = mint(cfg, keys, role=Role.SCREEN, ttl_s=60, site="bochum")
    assert jwt.get_unverified_header(token)["alg"] == algorithm
    assert verify(cfg, keys, token) == grant
    # a verifying-only host (no private key) accepts the token but cannot mint
    verify_only = load(None, env={}, flags={"server": {"data_dir": str(tmp_path)}, "auth": {
        "algorithm": algorithm, "public_key_file": str(public)}})
    vkeys = load_keys(verify_only)
    assert verify(verify_only, vkeys, token).role is Role.SCREEN
    with pytest.raises(ConfigError, match="private_key_file"):
        mint(verify_only, vkeys, role=Role.VIEWER, ttl_s=60)
    # algorithm confusion: an HS256 token "signed" with the public key text is refused
    claims = {"iss": "window", "aud": "window", "exp": int(time.time()) + 60, "jti": "x",
              "role": "admin"}
    forged = jwt.api_jws.PyJWS(algorithms=["HS256"]).encode(
        jwt.utils.force_bytes(__import__("json").dumps(claims)), b"k" * 32, algorithm="HS256")
    with pytest.raises(Unauthorized):
        verify(cfg, keys, forged)


def test_short_secret_is_refused(tmp_path: Path) -> None:
    cfg = load(None, env={"WINDOW_SECRET": "short"},
               flags={"server": {"data_dir": str(tmp_path)}})
    with pytest.raises(ConfigError, match="at least 32"):
        load_keys(cfg)


def test_generated_secret_is_kept(tmp_path: Path) -> None:
    cfg = load(None, env={}, flags={"server": {"data_dir": str(tmp_path)}})
    first = load_keys(cfg)
    again = load_keys(cfg)
    assert first.verify_key == again.verify_key and len(first.verify_key) == 64
    token, _ = mint(cfg, first, role=Role.ADMIN, ttl_s=60)
    assert verify(cfg, again, token).role is Role.ADMIN


def test_token_ids_are_safe_on_a_command_line(tmp_path: Path) -> None:
    cfg = load(None, env={}, flags={"server": {"data_dir": str(tmp_path)}})
    keys = load_keys(cfg)
    for _ in range(300):  # url-safe base64 ids started with '-' about once in 64
        _, grant = mint(cfg, keys, role=Role.VIEWER, ttl_s=60)
        assert grant.jti[0].isalnum() and len(grant.jti) >= 24
