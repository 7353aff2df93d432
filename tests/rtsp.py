"""A real RTSP camera for tests: ``tests/rtsp_server.py`` (GStreamer's RTSP server library)
run by Debian's Python as a subprocess. Missing packages fail loudly, never skip."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

SERVER = Path(__file__).with_name("rtsp_server.py")
PYTHON = "/usr/bin/python3"
PACKAGES = "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-ugly"


class RtspServer:
    """``start()`` (again on the same port after ``stop()``), ``url``, ``stop()``."""

    def __init__(self) -> None:
        self.port = 0
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam"

    async def start(self, width: int, height: int, fps: int = 15,
                    profile: str = "constrained-baseline") -> None:
        if not shutil.which(PYTHON):
            raise RuntimeError(f"{PYTHON} missing: apt-get install {PACKAGES}")
        self.proc = await asyncio.create_subprocess_exec(
            PYTHON, str(SERVER), "--port", str(self.port), "--width", str(width),
            "--height", str(height), "--fps", str(fps), "--profile", profile,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 20)
        if not line:
            err = (await self.proc.stderr.read()).decode() if self.proc.stderr else ""
            raise RuntimeError(f"the RTSP server did not start (apt-get install {PACKAGES}): "
                               f"{err.strip().splitlines()[-1:] or ''}")
        info = json.loads(line)
        if "port" not in info:
            raise RuntimeError(f"the RTSP server did not start: {info}")
        self.port = int(info["port"])

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self.proc = None


def gst_rtsp_available() -> bool:
    """For scripts/test's preflight: can Debian's Python load the RTSP server library?"""
    code = ("import gi; gi.require_version('GstRtspServer', '1.0'); "
            "from gi.repository import GstRtspServer")
    return subprocess.run([PYTHON, "-c", code], capture_output=True).returncode == 0
