"""`window demo`: one command gives a relay and live simulated cameras for both sites."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from peers import watch
from test_cli import free_port


def test_demo_prints_working_urls_and_both_sites_go_live(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "window", "demo", "--port", str(port),
                             "--data", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "WINDOW_SECRET": ""})
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while not any("Ctrl+C" in line for line in lines):
            assert time.monotonic() < deadline and proc.poll() is None, lines
            lines.append(proc.stdout.readline())
        text = "".join(lines)
        base = f"http://127.0.0.1:{port}"
        for page in ("/admin#token=", "/view/bochum#token=", "/view/tsukuba#token=",
                     "/screen/bochum#token=", "/screen/tsukuba#token="):
            assert base + page in text, text
        viewer_token = re.search(r"/view/tsukuba#token=(\S+)", text)
        assert viewer_token
        deadline = time.monotonic() + 30
        while True:
            health = json.load(urllib.request.urlopen(base + "/healthz"))
            if health["sites"] == {"bochum": "live", "tsukuba": "live"}:
                break
            assert time.monotonic() < deadline, health
            time.sleep(0.5)
        assert health["privacy"] == {"bochum": "people", "tsukuba": "people"}

        async def look() -> None:
            viewer = await watch(base, "tsukuba", viewer_token.group(1))
            await viewer.wait_frames(10, timeout=20)
            await viewer.close()

        asyncio.run(look())
        for url in (base + "/view/bochum", base + "/admin", base + "/screen/tsukuba"):
            with urllib.request.urlopen(url) as r:
                assert r.status == 200 and b"<html" in r.read().lower()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(timeout=20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
