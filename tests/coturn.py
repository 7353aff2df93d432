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


def answers_allocate(port: int, timeout: float = 0.5) -> bool:
    """Does a TURN server on ``port`` answer an Allocate request (without credentials: a
    401 is an answer)? Its log says it started before its UDP listeners serve."""
    # STUN header: Allocate (0x0003), 8 bytes of attributes, magic cookie, transaction ID;
    # REQUESTED-TRANSPORT (0x0019): UDP (17).
    request = (b"\x00\x03\x00\x08\x21\x12\xa4\x42" + os.urandom(12)
               + b"\x00\x19\x00\x04\x11\x00\x00\x00")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(request, ("127.0.0.1", port))
        try:
            reply = s.recv(2048)
        except OSError:
            return False
    return len(reply) >= 20 and reply[8:20] == request[8:20]


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
        deadline = time.monotonic() + 20
        ready = False
        while not ready and proc.poll() is None and time.monotonic() < deadline:
            ready = answers_allocate(port)
            time.sleep(0 if ready else 0.1)
        assert ready, "coturn did not start: " + (
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
