"""The `window` command as an operator runs it: real processes, real data dir."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

WINDOW = [sys.executable, "-m", "window"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WINDOW, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(data: Path, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    """`window serve` in a process of its own (small frames), once it answers /healthz."""
    port = free_port()
    full_env = {**os.environ, "WINDOW_MEDIA__WIDTH": "320", "WINDOW_MEDIA__HEIGHT": "180",
                **env}
    full_env.pop("WINDOW_SECRET", None)
    proc = subprocess.Popen([*WINDOW, "serve", "--data", str(data), "--port", str(port)],
                            env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            return proc, url
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise AssertionError(proc.stderr.read().decode() if proc.stderr else "") from None
            time.sleep(0.2)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    proc, url = start_serve(tmp_path)
    yield url, tmp_path
    proc.terminate()
    assert proc.wait(timeout=20) == 0


def post_offer(url: str, token: str, sdp: str) -> int:
    req = urllib.request.Request(url, data=sdp.encode(), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/sdp"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


async def make_offer() -> str:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = str(pc.localDescription.sdp)
    await pc.close()
    return sdp


def test_token_minted_on_the_host_is_accepted_then_revoked(served: tuple[str, Path]) -> None:
    url, data = served
    out = run("token", "create", "--role", "viewer", "--site", "bochum", "--ttl", "15m",
              "--data", str(data), env={"WINDOW_SECRET": ""})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    assert len(lines) == 2 and lines[1] == "" and lines[0].count(".") == 2
    token = lines[0]
    secret = data / "secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    sdp = asyncio.run(make_offer())
    assert post_offer(f"{url}/whep/bochum", token, sdp) == 201  # a session of this token
    assert post_offer(f"{url}/whep/tsukuba", token, sdp) == 403
    import jwt

    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert run("token", "revoke", jti, "--data", str(data)).returncode == 0
    deadline = time.monotonic() + 6
    while post_offer(f"{url}/whep/bochum", token, sdp) != 401:
        assert time.monotonic() < deadline, "revocation not seen by the running server"
        time.sleep(0.5)
    # the sessions it opened before are gone too (the first POST above made one)
    admin = run("token", "create", "--role", "admin", "--data", str(data)).stdout.strip()
    req = urllib.request.Request(url + "/api/sessions",
                                 headers={"Authorization": f"Bearer {admin}"})
    sessions = json.load(urllib.request.urlopen(req))["sessions"]
    assert [s["jti"] for s in sessions if s["jti"] == jti] == [], sessions
    health = json.load(urllib.request.urlopen(url + "/healthz"))
    assert set(health["sites"]) == {"bochum", "tsukuba"}


def test_token_create_errors_are_one_line(tmp_path: Path) -> None:
    out = run("token", "create", "--role", "camera", "--data", str(tmp_path))
    assert out.returncode == 2 and out.stdout == ""
    assert "needs --site" in out.stderr
    out = run("token", "create", "--role", "viewer", "--site", "paris", "--data", str(tmp_path))
    assert out.returncode == 2 and "unknown site 'paris'" in out.stderr
    out = run("token", "create", "--role", "viewer", "--ttl", "5 weeks", "--data", str(tmp_path))
    assert out.returncode == 2 and "not a duration" in out.stderr


def test_serve_rejects_a_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "w.toml"
    bad.write_text("[server]\nprot = 1\n")
    out = run("serve", "--config", str(bad), "--data", str(tmp_path))
    assert out.returncode == 2 and "unknown key 'server.prot'" in out.stderr


def test_sigterm_drains_with_a_closing_slate(tmp_path: Path) -> None:
    """A viewer sees the closing slate, then the process exits 0 within the bound."""
    import signal

    from peers import PatternTrack, publish, watch

    proc, url = start_serve(tmp_path, WINDOW_PRIVACY__MODE="full")
    try:

        def mint(*args: str) -> str:
            return run("token", "create", *args, "--data", str(tmp_path)).stdout.strip()

        async def scenario() -> float:
            track = PatternTrack(320, 180)
            track.level = 230
            pub, _ = await publish(url, "bochum", mint("--role", "camera", "--site", "bochum"),
                                   track)
            viewer = await watch(url, "bochum", mint("--role", "viewer"))
            await viewer.wait_for(lambda img: img.mean() > 150)
            sent = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            await viewer.wait_for(lambda img: img.mean() < 100, timeout=5)
            seen = time.monotonic() - sent
            await viewer.close()
            await pub.pc.close()
            return seen

        assert asyncio.run(scenario()) < 1.5
        assert proc.wait(timeout=15) == 0
        assert b"stopped" in (proc.stderr.read() if proc.stderr else b"")
    finally:
        if proc.poll() is None:
            proc.kill()
