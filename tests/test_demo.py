"""`window demo`: one command gives a relay and live simulated cameras for both sites."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from peers import watch
from test_cli import free_port


def start_demo(tmp_path: Path, port: int, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """``window demo``, and what it printed up to "Ctrl+C"."""
    proc = subprocess.Popen([sys.executable, "-m", "window", "demo", "--port", str(port),
                             "--data", str(tmp_path), *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "WINDOW_SECRET": ""})
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while not any("Ctrl+C" in line for line in lines):
        assert time.monotonic() < deadline and proc.poll() is None, lines
        lines.append(proc.stdout.readline())
    return proc, "".join(lines)


def stop_demo(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_demo_prints_working_urls_and_both_sites_go_live(tmp_path: Path) -> None:
    port = free_port()
    proc, text = start_demo(tmp_path, port)
    try:
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
        stop_demo(proc)


def test_two_relays_demo_pushes_each_city_to_the_other(tmp_path: Path) -> None:
    port = free_port()
    while True:  # two ports in a row
        try:
            with socket.create_server(("127.0.0.1", port + 1)):
                break
        except OSError:
            port = free_port()
    proc, text = start_demo(tmp_path, port, "--two-relays")
    try:
        bochum, tsukuba = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"
        assert f"{bochum}/screen/bochum#token=" in text
        assert f"{tsukuba}/screen/tsukuba#token=" in text
        deadline = time.monotonic() + 60
        while True:
            here = json.load(urllib.request.urlopen(bochum + "/healthz"))
            there = json.load(urllib.request.urlopen(tsukuba + "/healthz"))
            # each relay has its own camera and the other city's feed, pushed to it
            if (here["sources"] == {"bochum": "camera", "tsukuba": "relay"}
                    and there["sources"] == {"bochum": "relay", "tsukuba": "camera"}
                    and here["sites"]["tsukuba"] == "live" and there["sites"]["bochum"] == "live"):
                break
            assert time.monotonic() < deadline, (here, there)
            time.sleep(0.5)
        assert here["pushes"]["bochum"][0]["state"] == "connected"
        assert there["pushes"]["tsukuba"][0]["url"] == f"{bochum}/whip/tsukuba"
    finally:
        stop_demo(proc)
