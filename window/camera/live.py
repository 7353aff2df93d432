"""Live sources for the camera agent: an RTSP camera or a V4L2 device, read by PyAV.

A daemon thread reads the stream and reopens it after any error or end of stream, every
``LIVE_RETRY_CAP_S`` at most (a camera on the LAN costs nothing to ask, and it must be back
in the feed within seconds of coming back). Decoded frames: only the newest is kept, so a
slow consumer never builds latency. An RTSP camera's H.264 can be passed through: its
packets go out as they are (no decode, no encode on the agent), every one in order, up to
``PASSTHROUGH_QUEUE``, then dropped up to the next keyframe. ``window.camera.sources``
chooses when (see ``open_source``).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
import urllib.parse
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError

from .sources import CLOCK_RATE, TIME_BASE, VideoSource, _slate, to_yuv420p

log = logging.getLogger("window.camera")

# A live source that failed retries this often at most.
LIVE_RETRY_CAP_S = 2.0
# Encoded packets a passthrough source may hold before it drops them up to the next keyframe.
PASSTHROUGH_QUEUE = 90


class LiveSource(VideoSource):
    """A live stream (RTSP, V4L2, anything PyAV opens) read by a daemon thread that keeps
    only the newest frame. On error or end of stream it reopens with backoff (1 s doubling
    to 30 s). While no frame has arrived for ``stall`` seconds, ``recv`` returns a grey
    "camera source unavailable" frame once a second, so the connection stays alive."""

    def __init__(
        self,
        url: str,
        *,
        format: str | None = None,
        options: dict[str, str] | None = None,
        width: int | None = None,
        height: int | None = None,
        stall: float = 3.0,
        passthrough: bool = False,
    ) -> None:
        super().__init__()
        self.url = url
        # H.264 in: its packets go out as they are (no decode, no encode here); other
        # codecs are decoded and encoded again as usual.
        self.passthrough = passthrough
        self.codec = "video/H264" if passthrough else None
        self._queue: collections.deque[av.VideoFrame | av.Packet[Any]] = collections.deque()
        self._skip_to_key = False
        self.dropped = 0
        self._format = format
        self._options = dict(options or {})
        self._width, self._height = width, height
        self._stall = stall
        self._latest: av.VideoFrame | None = None
        self._latest_at = 0.0
        self._started_at = 0.0
        self._size = (width or 1280, height or 720)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._new = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.reconnects = 0
        self.frames_in = 0

    @classmethod
    def rtsp(cls, url: str, *, width: int | None = None, height: int | None = None,
             passthrough: bool = False) -> LiveSource:
        return cls(url, options={"rtsp_transport": "tcp", "fflags": "nobuffer"},
                   width=width, height=height, passthrough=passthrough)

    @classmethod
    def device(cls, path: str, *, width: int | None = None, height: int | None = None,
               fps: float | None = None) -> LiveSource:
        options = {"video_size": f"{width or 1280}x{height or 720}",
                   "framerate": str(int(fps or 30))}
        return cls(path, format="v4l2", options=options, width=width, height=height)

    def _safe_url(self) -> str:
        """The URL without user:password, for logs."""
        parts = urllib.parse.urlsplit(self.url)
        if parts.password or parts.username:
            host = parts.hostname or ""
            if parts.port:
                host = f"{host}:{parts.port}"
            return urllib.parse.urlunsplit(parts._replace(netloc=host))
        return self.url

    def _run(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            try:
                with av.open(self.url, format=self._format, options=self._options,
                             timeout=(10.0, 5.0)) as container:
                    stream = container.streams.video[0]
                    ctx = stream.codec_context
                    if self.passthrough and ctx.name == "h264":
                        log.info("source %s opened: H.264 %sx%s passed through (not decoded)",
                                 self._safe_url(), ctx.width, ctx.height)
                        with self._lock:
                            self._size = (ctx.width or self._size[0], ctx.height or self._size[1])
                        extradata = bytes(ctx.extradata or b"")
                        for packet in container.demux(stream):
                            if self._stop.is_set():
                                return
                            if packet.size:
                                self._publish_packet(packet, extradata)
                                delay = 0.5
                    else:
                        if self.passthrough:
                            log.warning("source %s is %s, not H.264: decoded and encoded again",
                                        self._safe_url(), ctx.name)
                        stream.thread_type = "AUTO"
                        log.info("source %s opened", self._safe_url())
                        for frame in container.decode(stream):
                            if self._stop.is_set():
                                return
                            self._publish(to_yuv420p(frame, self._width, self._height))
                            delay = 0.5
                log.warning("source %s: end of stream", self._safe_url())
            except Exception as exc:  # any decoder/network error: reopen
                log.warning("source %s: %s", self._safe_url(), exc)
            self.reconnects += 1
            self._stop.wait(delay)
            delay = min(delay * 2, LIVE_RETRY_CAP_S)

    def _publish_packet(self, packet: av.Packet[Any], extradata: bytes) -> None:
        """Queue one encoded access unit (every one counts: a lost packet breaks the
        pictures up to the next keyframe, so a full queue drops up to that keyframe)."""
        key = bool(packet.is_keyframe)
        data = bytes(packet)
        if key and extradata.startswith((b"\0\0\0\1", b"\0\0\1")):
            data = extradata + data  # SPS/PPS (from the SDP) before every keyframe
        out = av.Packet(data)
        out.is_keyframe = key
        with self._lock:
            if len(self._queue) >= PASSTHROUGH_QUEUE:
                self.dropped += len(self._queue)
                self._queue.clear()
                self._skip_to_key = True
            if self._skip_to_key and not key:
                self.dropped += 1
                return
            self._skip_to_key = False
            self._queue.append(out)
        self._published()

    def _publish(self, frame: av.VideoFrame) -> None:
        with self._lock:
            self._latest = frame
            self._size = (frame.width, frame.height)
        self._published()

    def _published(self) -> None:
        with self._lock:
            self.frames_in += 1
            self._latest_at = time.monotonic()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._new.set)

    async def recv(self) -> av.VideoFrame | av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        if self._thread is None:
            self._loop = asyncio.get_running_loop()
            self._started_at = time.monotonic()
            self._thread = threading.Thread(target=self._run, name="camera-live", daemon=True)
            self._thread.start()
        # Wait for a frame; once the stream has been silent for ``stall`` s, send a slate
        # every second until it is back.
        silent = time.monotonic() - max(self._latest_at, self._started_at)
        try:
            await asyncio.wait_for(self._new.wait(), max(1.0, self._stall - silent))
        except TimeoutError:
            with self._lock:
                w, h = self._size
            return self._stamp(await self._in_worker(_slate, w, h, "camera source unavailable"))
        self._new.clear()
        with self._lock:
            if self._queue:
                packet, at = self._queue.popleft(), self._latest_at
                if self._queue:
                    self._new.set()  # more are waiting
                if isinstance(packet, av.Packet):
                    return self._stamp_packet(packet)
                return self._stamp(packet, at)
            frame, at = self._latest, self._latest_at
            self._latest = None
        if frame is None:  # raced with a previous recv; wait for the next one
            return await self.recv()
        return self._stamp(frame, at)

    def _stamp_packet(self, packet: av.Packet[Any]) -> av.Packet[Any]:
        """A packet on the same 90 kHz capture clock as frames (the camera's own timestamps
        restart at every reconnect)."""
        pts = max(round((time.monotonic() - self._t0) * CLOCK_RATE), self._last_pts + 1)
        self._last_pts = pts
        packet.pts = pts
        packet.dts = pts
        packet.time_base = TIME_BASE
        return packet

    def stop(self) -> None:
        self._stop.set()
        super().stop()
