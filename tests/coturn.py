"""A real coturn TURN server on loopback, started by the tests (Debian's `coturn`)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from servers import small_config

from window.config import Config

SECRET = "turn-test-secret-0123456789abcdef"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def coturn(tmp: Path) -> Iterator[str]:
    """Yields the TURN URL; the server allows loopback peers, REST-API credentials only."""
    binary = shutil.which("turnserver")
    if binary is None:
        if os.environ.get("CI") or os.environ.get("WINDOW_TEST_ALL"):
            pytest.fail("turnserver is not installed: .ci/run installs coturn")
        pytest.skip("coturn is not installed (apt-get install coturn)")
    port = free_udp_port()
    log = tmp / "turn.log"
    proc = subprocess.Popen(
        [binary, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
         f"--listening-port={port}", "--use-auth-secret", f"--static-auth-secret={SECRET}",
         "--realm=window.test", "--no-tls", "--no-dtls", "--no-cli", "--allow-loopback-peers",
         "--min-port=49152", "--max-port=65535", "--no-stun", f"--log-file={log}",
         "--simple-log", "-v", "--pidfile", str(tmp / "turn.pid")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not (log.exists() and "Total General servers" in log.read_text(errors="replace")):
            if proc.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        time.sleep(0.3)
        assert proc.poll() is None, "coturn did not start: " + (
            log.read_text(errors="replace")[-2000:] if log.exists() else "")
        yield f"turn:127.0.0.1:{port}?transport=udp"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def allocations(tmp: Path) -> int:
    """How many TURN allocations coturn logged as created."""
    log = tmp / "turn.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    return text.count("ALLOCATE processed, success")


def turn_relay_config(tmp: Path, turn_url: str) -> Config:
    """A small relay that hands out ``turn_url`` with credentials (its own peers do not use
    it, so everything relayed is the clients' doing)."""
    return small_config(tmp, media={"width": 320, "height": 180},
                        turn={"urls": [turn_url], "secret": SECRET, "relay_uses_turn": False})
