"""The WHIP publisher against real endpoints on 127.0.0.1: the real relay, and a minimal
in-test WHIP answerer (real aiortc) that can be killed, brought back, and made to refuse."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from window.app import Server
from window.camera import run_camera
from window.camera.publisher import Backoff, WhipPublisher, parse_retry_after
from window.camera.sources import SyntheticSource
from window.media.feed import FeedState

GOOD = "good-token-0123456789"
SMALL = "test?width=320&height=180&fps=15"


class Answerer:
    """A WHIP endpoint: checks the bearer token, answers with aiortc, counts frames."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.frames = 0
        self.posts = 0
        self.deletes = 0
        self.auth_headers: list[str] = []
        self.busy_once = False
        self.pcs: dict[str, RTCPeerConnection] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/whip/{site}", self._post)
        app.router.add_delete("/whip/{site}/{sid}", self._delete)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def kill(self) -> None:
        """Stop listening and drop every peer connection."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for pc in list(self.pcs.values()):
            await pc.close()
        self.pcs.clear()
        for t in list(self._tasks):
            t.cancel()

    async def _post(self, request: web.Request) -> web.Response:
        self.posts += 1
        self.auth_headers.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") != f"Bearer {GOOD}":
            return web.Response(status=401, text="invalid token\n")
        if request.content_type != "application/sdp":
            return web.Response(status=415, text="want application/sdp\n")
        if self.busy_once:
            self.busy_once = False
            return web.Response(status=503, text="at capacity\n", headers={"Retry-After": "1"})
        offer = await request.text()
        pc = RTCPeerConnection()
        sid = uuid.uuid4().hex
        self.pcs[sid] = pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            task = asyncio.create_task(self._count(track))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return web.Response(status=201, text=pc.localDescription.sdp,
                            content_type="application/sdp",
                            headers={"Location": f"/whip/{request.match_info['site']}/{sid}",
                                     "ETag": f'"{sid[:8]}"'})

    async def _delete(self, request: web.Request) -> web.Response:
        pc = self.pcs.pop(request.match_info["sid"], None)
        if pc is None:
            return web.Response(status=404, text="no such session\n")
        self.deletes += 1
        await pc.close()
        return web.Response(text="ok\n")

    async def _count(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                await track.recv()
                self.frames += 1
        except MediaStreamError:
            pass

    async def wait_frames(self, n: int, timeout: float = 10.0) -> None:
        start = self.frames
        deadline = time.monotonic() + timeout
        while self.frames < start + n:
            assert time.monotonic() < deadline, f"{self.frames - start} of {n} frames"
            await asyncio.sleep(0.05)


# A WHIP answerer in its own process, so that the test can SIGKILL it: a crashed relay
# sends no DTLS close, no BYE, nothing. It prints its port, then its frame count 10×/s.
CRASHABLE = """
import asyncio, sys, uuid
from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription
frames = 0
pcs = []
async def count(track):
    global frames
    while True:
        await track.recv()
        frames += 1
async def post(request):
    pc = RTCPeerConnection()
    pcs.append(pc)
    pc.on("track", lambda track: asyncio.ensure_future(count(track)))
    await pc.setRemoteDescription(RTCSessionDescription(await request.text(), "offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    return web.Response(status=201, text=pc.localDescription.sdp,
                        content_type="application/sdp",
                        headers={"Location": "/whip/bochum/" + uuid.uuid4().hex})
async def main():
    app = web.Application()
    app.router.add_post("/whip/{site}", post)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", int(sys.argv[1]))
    await site.start()
    print("ready", site._server.sockets[0].getsockname()[1], flush=True)
    while True:
        await asyncio.sleep(0.1)
        print("frames", frames, flush=True)
asyncio.run(main())
"""


class Crashable:
    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc, self.port, self.frames = proc, port, 0
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, port: int = 0) -> Crashable:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CRASHABLE, str(port), stdout=asyncio.subprocess.PIPE)
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 15)
        assert line.startswith(b"ready "), line
        return cls(proc, int(line.split()[1]))

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            if line.startswith(b"frames "):
                self.frames = int(line.split()[1])

    async def wait_frames(self, n: int, timeout: float) -> None:
        await _eventually(lambda: self.frames >= n, timeout, f"{self.frames} of {n} frames")

    async def crash(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self._reader.cancel()


class RecordingBackoff(Backoff):
    def __init__(self) -> None:
        super().__init__(initial=0.25, cap=1.0, jitter=0.2)
        self.delays: list[float] = []

    def next(self) -> float:
        delay = super().next()
        self.delays.append(delay)
        return delay


@pytest.fixture
async def answerer() -> AsyncIterator[Answerer]:
    a = Answerer()
    await a.start()
    yield a
    await a.kill()


async def _eventually(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


def _publisher(url: str, token: str = GOOD, **kw) -> tuple[WhipPublisher, SyntheticSource]:  # type: ignore[no-untyped-def]
    src = SyntheticSource(320, 180, 15)
    return WhipPublisher(url, "bochum", token, src, **kw), src


async def test_publishes_to_the_real_relay_and_deletes_on_stop(server: Server, token) -> None:  # type: ignore[no-untyped-def]
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_camera(server.url, "bochum", token("camera", "bochum"), SMALL, stop=stop))
    feed = server.relay.feed("bochum")
    await _eventually(lambda: feed.state() is FeedState.LIVE, 15, "feed never went live")
    assert server.relay.publisher_of("bochum") is not None
    stop.set()
    assert await asyncio.wait_for(task, 10) == 0
    assert server.relay.publisher_of("bochum") is None  # the session was DELETEd


async def test_reconnects_with_backoff_after_the_endpoint_dies(answerer: Answerer) -> None:
    backoff = RecordingBackoff()
    pub, src = _publisher(answerer.url, backoff=backoff)
    stop = asyncio.Event()
    task = asyncio.create_task(pub.run(stop))
    try:
        await answerer.wait_frames(10)
        assert pub.sessions == 1 and pub.state == "connected"
        port, posts = answerer.port, answerer.posts
        await answerer.kill()
        # Refused connections: the publisher retries with growing delays.
        await _eventually(lambda: len(backoff.delays) >= 4, 10, "no retries")
        assert backoff.delays[1] > backoff.delays[0] * 1.5
        assert max(backoff.delays) <= 1.0 * 1.2 + 1e-9
        assert pub.sessions == 1
        # Back on the same port: frames flow again, on a new session.
        revived = Answerer(port)
        await revived.start()
        try:
            await revived.wait_frames(10, timeout=10)
            assert pub.sessions == 2 and revived.posts >= 1 and posts == 1
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # Cancellation still DELETEs the session.
            assert revived.deletes == 1 and not revived.pcs
            await revived.kill()
    finally:
        task.cancel()
        src.stop()


async def test_detects_a_crashed_relay_by_missing_rtcp_and_reconnects() -> None:
    first = await Crashable.start()
    second: Crashable | None = None
    pub, src = _publisher(f"http://127.0.0.1:{first.port}", rtcp_timeout=2.0,
                          backoff=Backoff(initial=0.25, cap=1.0))
    stop = asyncio.Event()
    task = asyncio.create_task(pub.run(stop))
    try:
        await first.wait_frames(10, timeout=10)
        await asyncio.sleep(2.5)  # longer than rtcp_timeout: receiver reports keep it alive
        assert pub.sessions == 1 and pub.state == "connected"
        await first.crash()
        killed = time.monotonic()
        second = await Crashable.start(first.port)
        await second.wait_frames(10, timeout=12)
        assert pub.sessions == 2
        assert time.monotonic() - killed < 10
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        src.stop()
        await first.crash()
        if second is not None:
            await second.crash()


async def test_unauthorized_is_logged_without_the_token_and_retried_slowly(
    answerer: Answerer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="window.camera")
    secret = "bad-secret-token-xyz"
    pub, src = _publisher(answerer.url, token=secret, slow_retry=1.0)
    stop = asyncio.Event()
    task = asyncio.create_task(pub.run(stop))
    await asyncio.sleep(1.6)
    stop.set()
    assert await asyncio.wait_for(task, 5) == 0
    src.stop()
    assert pub.last_status == 401 and pub.sessions == 0
    assert answerer.posts == 2  # at 0 s and after the slow retry of 1 s, not a hammering
    assert answerer.auth_headers[0] == f"Bearer {secret}"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and "401" in errors[0].getMessage() and "token" in errors[0].getMessage()
    assert secret not in caplog.text


async def test_503_honours_retry_after(answerer: Answerer) -> None:
    answerer.busy_once = True
    pub, src = _publisher(answerer.url, backoff=Backoff(initial=0.05, cap=0.1))
    stop = asyncio.Event()
    started = time.monotonic()
    task = asyncio.create_task(pub.run(stop))
    try:
        await _eventually(lambda: answerer.posts >= 2, 5, "no second POST")
        assert time.monotonic() - started >= 1.0  # Retry-After: 1, not the 50 ms backoff
        await answerer.wait_frames(5)
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 5) == 0
        src.stop()
    assert answerer.deletes == 1


def test_retry_after_forms() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0


async def test_bad_arguments_exit_2() -> None:
    assert await run_camera("ftp://x", "bochum", GOOD) == 2
    assert await run_camera("http://127.0.0.1:9", "Bochum!", GOOD) == 2
    assert await run_camera("http://127.0.0.1:9", "bochum", GOOD, "/no/such/file.mp4") == 2


def test_backoff_caps_and_resets() -> None:
    b = Backoff(initial=0.5, cap=30.0, jitter=0.0)
    assert [b.next() for _ in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    b.reset()
    assert b.next() == 0.5

