"""``window camera --source rtsp://…`` against a real RTSP server on loopback (GStreamer's
RTSP server, H.264): it publishes, survives the server going away, and comes back (with
another picture size) by itself once the server is back."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from rtsp import RtspServer
from servers import running, small_config

from window.app import Server
from window.auth.roles import Role
from window.auth.tokens import mint


async def _until(predicate, timeout: float, what: str) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


async def _camera(server: Server, source: str, log: Path) -> asyncio.subprocess.Process:
    token, _ = mint(server.cfg, server.keys, role=Role.CAMERA, ttl_s=600, site="bochum")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINDOW_")}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "window", "camera", "--server", server.url, "--site", "bochum",
        "--token", token, "--source", source, stdout=asyncio.subprocess.DEVNULL,
        stderr=log.open("w"), env=env)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def test_rtsp_camera_comes_back_after_the_server_restarts_with_another_size(
        tmp_path: Path) -> None:
    rtsp = RtspServer()
    await rtsp.start(640, 360, profile="high")  # what most IP cameras send
    log = tmp_path / "camera.log"
    try:
        async with running(small_config(tmp_path)) as server:
            feed = server.relay.feed("bochum")
            camera = await _camera(server, rtsp.url, log)
            try:
                await _until(lambda: feed.camera_size == (640, 360) and
                             feed.frames_in.rate() > 5, 30, "the RTSP picture at the relay")
                assert "passed through (not decoded)" in log.read_text()
                await rtsp.stop()  # the camera goes away: the agent keeps its session
                await _until(lambda: "source rtsp://" in log.read_text().split(
                    "passed through")[-1], 15, "the agent noticing")
                await rtsp.start(480, 272)  # back, on the same address, another size
                back = await _until(lambda: feed.camera_size == (480, 272), 30,
                                    "the new picture at the relay")
                await _until(lambda: feed.frames_in.rate() > 5, 10, "frames flowing again")
                print(f"RTSP server back -> new picture at the relay: {back:.1f} s")
                assert feed.publisher_id is not None  # one session throughout
            finally:
                await _stop(camera)
    finally:
        await rtsp.stop()


async def test_rtsp_camera_decoded_and_scaled_when_asked(tmp_path: Path) -> None:
    rtsp = RtspServer()
    await rtsp.start(640, 360)
    log = tmp_path / "camera.log"
    try:
        async with running(small_config(tmp_path)) as server:
            feed = server.relay.feed("bochum")
            camera = await _camera(server, rtsp.url + "?width=320&height=180", log)
            try:
                await _until(lambda: feed.camera_size == (320, 180) and
                             feed.frames_in.rate() > 5, 30, "the scaled picture at the relay")
                assert "passed through" not in log.read_text()
            finally:
                await _stop(camera)
    finally:
        await rtsp.stop()
