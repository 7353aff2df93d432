"""Real aiortc peers for the tests: a publisher with a synthetic picture, a viewer that counts
what it decodes. They speak WHIP/WHEP over real HTTP to a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import fractions
import time
from dataclasses import dataclass, field

import aiohttp
import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from window.media.repair import repair_losses

VIDEO_TIME_BASE = fractions.Fraction(1, 90000)


class PatternTrack(MediaStreamTrack):
    """Frames whose brightness the test chooses (``level``); 640×360 at ``fps``."""

    kind = "video"

    def __init__(self, width: int = 640, height: int = 360, fps: int = 30) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self.level = 200
        self.image: np.ndarray | None = None
        self._start: float | None = None
        self._count = 0

    def picture(self) -> np.ndarray:
        """The next frame's BGR image."""
        if self.image is not None:
            return self.image
        img = np.full((self.height, self.width, 3), self.level, np.uint8)
        # some structure so the encoder has work: a moving bar
        x = (self._count * 8) % self.width
        img[:, x:x + 16] = 255 - self.level
        return img

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        self._count += 1
        target = self._start + self._count / self.fps
        await asyncio.sleep(max(0.0, target - time.monotonic()))
        frame = av.VideoFrame.from_ndarray(self.picture(), format="bgr24")
        frame.pts = int(self._count * 90000 / self.fps)
        frame.time_base = VIDEO_TIME_BASE
        return frame


async def _wait_gathered(pc: RTCPeerConnection) -> None:
    while pc.iceGatheringState != "complete":
        await asyncio.sleep(0.01)


@dataclass
class Peer:
    pc: RTCPeerConnection
    location: str
    etag: str
    answer: str
    links: list[str] = field(default_factory=list)  # the 201's Link header values


async def post_offer(base: str, path: str, token: str, pc: RTCPeerConnection) -> Peer:
    offer = await pc.createOffer()
    await pc.setLocalDescription(offer)
    await _wait_gathered(pc)
    async with aiohttp.ClientSession() as http, http.post(
        base + path,
        data=pc.localDescription.sdp,
        headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {token}"},
    ) as resp:
        body = await resp.text()
        if resp.status != 201:
            raise AssertionError(f"{path}: {resp.status} {body}")
        location, etag = resp.headers["Location"], resp.headers.get("ETag", "")
        links = resp.headers.getall("Link", [])
    await pc.setRemoteDescription(RTCSessionDescription(body, "answer"))
    return Peer(pc, location, etag, body, links)


async def publish(base: str, site: str, token: str, track: MediaStreamTrack | None = None
                  ) -> tuple[Peer, PatternTrack | MediaStreamTrack]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    track = track or PatternTrack()
    pc.addTransceiver(track, direction="sendonly")
    return await post_offer(base, f"/whip/{site}", token, pc), track


@dataclass
class Viewer:
    peer: Peer
    frames: list[tuple[float, float]] = field(default_factory=list)  # (time, mean level)
    task: asyncio.Task[None] | None = None
    last_image: np.ndarray | None = None

    @property
    def count(self) -> int:
        return len(self.frames)

    async def wait_frames(self, n: int, timeout: float = 15.0) -> None:
        start = self.count
        deadline = time.monotonic() + timeout
        while self.count < start + n:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {self.count - start} of {n} frames in {timeout}s")
            await asyncio.sleep(0.05)

    async def wait_for(self, predicate, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while not (self.last_image is not None and predicate(self.last_image)):
            if time.monotonic() > deadline:
                raise AssertionError("the viewer never saw the expected picture")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
        await self.peer.pc.close()


async def watch(base: str, site: str, token: str, codec: str | None = None,
                repair_ms: float = 0) -> Viewer:
    """A viewer; ``codec`` ("video/H264", "video/VP8") restricts what it offers; ``repair_ms``
    > 0 gives it the relay's own receiving jitter buffer (``window.media.repair``)."""
    return await watch_url(f"{base}/whep/{site}", token, codec, repair_ms)


async def watch_url(url: str, token: str, codec: str | None = None,
                    repair_ms: float = 0) -> Viewer:
    """A viewer of any WHEP endpoint (the relay's, an audience tier's)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = pc.addTransceiver("video", direction="recvonly")
    if repair_ms:
        repair_losses(transceiver.receiver, repair_ms)
    if codec is not None:
        from aiortc import RTCRtpReceiver

        caps = RTCRtpReceiver.getCapabilities("video")
        transceiver.setCodecPreferences([c for c in caps.codecs if c.mimeType == codec])
    got: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        if not got.done():
            got.set_result(track)

    peer = await post_offer("", url, token, pc)
    viewer = Viewer(peer)
    track = await asyncio.wait_for(got, 10)

    async def consume() -> None:
        try:
            while True:
                frame = await track.recv()
                img = frame.to_ndarray(format="bgr24")
                viewer.last_image = img
                viewer.frames.append((time.monotonic(), float(img.mean())))
        except MediaStreamError:
            pass

    viewer.task = asyncio.create_task(consume())
    return viewer


async def delete(base: str, location: str, token: str) -> int:
    async with aiohttp.ClientSession() as http, http.delete(
        base + location, headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        return resp.status


async def ghost(base: str, path: str, token: str) -> tuple[int, dict[str, str], str]:
    """POST a real offer and never apply the answer: a session that never connects (it holds
    its slot until the reaper's connect timeout). Returns status, headers, body."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    if path.startswith("/whip/"):
        pc.addTransceiver(PatternTrack(), direction="sendonly")
    else:
        pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    async with aiohttp.ClientSession() as http, http.post(
            base + path, data=sdp,
            headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {token}"},
    ) as resp:
        return resp.status, dict(resp.headers), await resp.text()
