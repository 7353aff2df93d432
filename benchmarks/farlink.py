"""A partner relay for the soak: the push link that drops and comes back.

``FarRelay`` runs a second relay (``window serve``, its own data dir and secret, as the
partner city's) in a child process, mints the ``relay`` token that the soak relay presents
to it, and takes it away in the two ways a far relay goes away: SIGKILL (a crash or a power
cut: no goodbye, the push notices by ICE consent failure or a refused reconnect) and SIGTERM
(a restart: it drains and closes its sessions). It comes back on the same port after a
while, and the soak relay's push must find it again by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FarRelay:
    def __init__(self, site: str, log_path: str = os.devnull) -> None:
        self.site = site
        self.port = free_port()
        self.secret = secrets.token_urlsafe(32)
        self.data = tempfile.mkdtemp(prefix="soak-far-")
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.downs: dict[str, int] = {"kill": 0, "term": 0}
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def whip_url(self) -> str:
        return f"{self.url}/whip/{self.site}"

    def token(self, ttl_s: int) -> str:
        """A ``relay`` token for ``site``, signed with the far relay's secret."""
        from window.auth.keys import load_keys
        from window.auth.roles import Role
        from window.auth.tokens import mint
        from window.config import load

        cfg = load(None, env={"WINDOW_SECRET": self.secret},
                   flags={"server": {"data_dir": self.data}})
        return mint(cfg, load_keys(cfg), role=Role.RELAY, ttl_s=ttl_s, site=self.site,
                    subject="soak-partner")[0]

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, "WINDOW_SECRET": self.secret, "WINDOW_DATA": self.data}
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "window", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port), "--log-level", "warning"],
                env=env, cwd=str(ROOT), stdout=log, stderr=log)

    async def start(self) -> None:
        self.proc = await asyncio.to_thread(self._spawn)
        self.starts += 1
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with http.get(f"{self.url}/healthz") as r:
                        if r.status < 500:
                            return
                await asyncio.sleep(0.3)
        raise RuntimeError("the far relay did not start")

    async def stop(self, how: str = "term") -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGKILL if how == "kill" else signal.SIGTERM)
        self.downs[how] += 1
        try:
            await asyncio.to_thread(proc.wait, 20)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait, 5)

    def rss_kb(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return 0
        with contextlib.suppress(OSError), open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def summary(self) -> dict[str, Any]:
        return {"url": self.whip_url, "starts": self.starts, "downs": dict(self.downs)}
