"""One site's feed: camera frames → privacy step → one shared encoder → every viewer.

The feed always exists. It owns two tasks: ``_process`` turns the newest camera frame (or a
slate when there is no live video) into a frame that may leave the relay, and ``_encode``
encodes the newest such frame once and hands the same packets to every viewer. Each hop keeps
only the newest item, so a slow stage drops frames instead of building a backlog. All pixel
work runs on worker threads.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import av
import cv2
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from ..config import MediaConfig
from ..logs import Throttle
from ..privacy.pixelate import Image
from ..privacy.stage import PrivacyStage
from ..sites import SiteClock
from .encoder import TIME_BASE
from .encoding import Encoding
from .feed_track import FeedTrack
from .rate import MS_BUCKETS, Histogram, RateMeter, percentile
from .slate import SlateCache

if TYPE_CHECKING:
    from .forward import RelayIngest

log = logging.getLogger("window.feed")


class FeedState(enum.StrEnum):
    LIVE = "live"
    OFFLINE = "offline"  # no camera, or its frames stopped
    PAUSED = "paused"  # operators' curtain (or privacy mode "curtain")
    CLOSED = "closed"  # outside opening hours
    STOPPING = "stopping"  # the relay is shutting down


def to_i420(image: Image) -> Image:
    """BGR to planar YUV 4:2:0, what the encoders take: once per frame, for every codec.
    (OpenCV: ≈ 1 ms at 720p, against ≈ 4 ms for PyAV's reformat.)"""
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), np.uint8)


def letterbox(image: Image, width: int, height: int) -> Image:
    """``image`` scaled to fit ``width``×``height``, centred on black."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    scale = min(width / w, height / h)
    nw, nh = max(2, int(w * scale)), max(2, int(h * scale))
    resized = np.asarray(cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA), np.uint8)
    if (nw, nh) == (width, height):
        return resized
    out = np.zeros((height, width, 3), np.uint8)
    x, y = (width - nw) // 2, (height - nh) // 2
    out[y:y + nh, x:x + nw] = resized
    return out


class Feed:
    def __init__(self, name: str, media: MediaConfig, clock: SiteClock, privacy: PrivacyStage,
                 on_state: Callable[[Feed, FeedState], None] | None = None,
                 languages: list[str] | None = None,
                 titles: dict[str, str] | None = None) -> None:
        self.name = name
        self.media = media
        self.clock = clock
        self.privacy = privacy
        self.on_state = on_state
        self.paused = False
        self.stopping = False
        self.viewers: set[FeedTrack] = set()
        self.publisher_id: str | None = None
        self._ingest: asyncio.Task[None] | None = None
        self._latest: av.VideoFrame | None = None
        self._frame_ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._last_frame_at = float("-inf")
        self._mailbox: tuple[Image, bool] | None = None
        self._mailbox_ready = asyncio.Event()
        self.encodings: dict[str, Encoding] = {}
        self._last_pts = -1
        self._t0 = time.monotonic()
        # the slate's languages, most read first, and the site's name in each (window.i18n)
        self._slate = SlateCache(media.width, media.height,
                                 titles or {"en": clock.title}, languages or ["en"])
        self._slate_i420: tuple[Image, Image] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._throttle = Throttle()
        self._state = FeedState.OFFLINE
        self._open_cache: tuple[int, bool] = (-1, True)
        # figures
        self.frames_in = RateMeter()
        self.frames_out = RateMeter()
        self.encode_ms: deque[float] = deque(maxlen=300)
        self.encode_hist = Histogram(MS_BUCKETS)
        self.camera_size: tuple[int, int] | None = None
        # A feed pushed here by a partner relay (window.media.forward): its frames are
        # forwarded to the VP8 viewers as they arrive, unless the audit caught a face.
        self.ingest: RelayIngest | None = None
        self.audit_alert: dict[str, Any] | None = None
        self._vp8_source = "encoder"  # where the VP8 viewers' last frame came from
        self._fwd_offset: int | None = None  # arriving RTP time → this feed's pts
        self._owned: set[asyncio.Task[Any]] = set()
        self.frames_forwarded = RateMeter()
        self.bytes_forwarded = 0

    # life cycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._process(), name=f"feed-{self.name}-process"),
            asyncio.create_task(self._encode(), name=f"feed-{self.name}-encode"),
        ]

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not any(t.done() for t in self._tasks)

    async def close(self) -> None:
        if self._ingest is not None:
            self._ingest.cancel()
        for t in self._tasks:
            t.cancel()
        for t in self._owned:
            t.cancel()
        await asyncio.gather(*self._tasks, *([self._ingest] if self._ingest else []),
                             *self._owned, return_exceptions=True)
        if self.ingest is not None:
            self.ingest.close()
        for encoding in self.encodings.values():
            encoding.close()
        self.viewers.clear()
        self.privacy.close()

    # state ------------------------------------------------------------------------------------
    def _is_open(self) -> bool:
        second = int(time.monotonic())
        if self._open_cache[0] != second:
            self._open_cache = (second, self.clock.is_open())
        return self._open_cache[1]

    def state(self) -> FeedState:
        if self.stopping:
            return FeedState.STOPPING
        if not self._is_open():
            return FeedState.CLOSED
        if self.paused or self.privacy.curtain:
            return FeedState.PAUSED
        if (self.publisher_id is None
                or time.monotonic() - self._last_frame_at > self.media.camera_timeout_s):
            return FeedState.OFFLINE
        if self.ingest is not None and self.ingest.partner_state not in (None, "live"):
            return FeedState(self.ingest.partner_state)  # the origin's slate: ours instead
        return FeedState.LIVE

    def _note_state(self, state: FeedState) -> None:
        if state is not self._state:
            log.info("feed state", extra={"site": self.name, "from": str(self._state),
                                          "to": str(state)})
            self._state = state
            self.request_keyframe()
            if self.on_state is not None:
                self.on_state(self, state)

    def wake(self) -> None:
        """Re-evaluate the state now (pause, mode or camera changed)."""
        self._wake.set()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        self.wake()

    # camera -----------------------------------------------------------------------------------
    @property
    def last_frame_at(self) -> float:
        """When (monotonic) the current publisher last delivered a frame."""
        return self._last_frame_at

    def attach(self, publisher_id: str, track: MediaStreamTrack) -> None:
        """Make ``track`` this feed's camera, replacing any other."""
        if self._ingest is not None:
            self._ingest.cancel()
        if self.ingest is not None:
            self.ingest.close()
            self.ingest = None
        self.publisher_id = publisher_id
        self._ingest = asyncio.create_task(self._read_camera(publisher_id, track),
                                           name=f"feed-{self.name}-ingest")

    def attach_relay(self, publisher_id: str, ingest: RelayIngest) -> None:
        """Make a partner relay's session this feed's source (``window.media.forward``)."""
        self.detach(self.publisher_id or "")
        self.publisher_id = publisher_id
        self.ingest = ingest

    def detach(self, publisher_id: str) -> None:
        if self.publisher_id != publisher_id:
            return
        self.publisher_id = None
        self._latest = None
        if self._ingest is not None:
            self._ingest.cancel()
            self._ingest = None
        if self.ingest is not None:
            self.ingest.close()
            self.ingest = None
        self.wake()

    def own(self, task: asyncio.Task[Any]) -> None:
        """Keep ``task`` until it ends; cancelled when the feed closes."""
        self._owned.add(task)
        task.add_done_callback(self._owned.discard)

    async def _read_camera(self, publisher_id: str, track: MediaStreamTrack) -> None:
        try:
            while self.publisher_id == publisher_id:
                frame = await track.recv()
                if self.publisher_id != publisher_id:
                    break
                if isinstance(frame, av.VideoFrame):
                    self.take_frame(frame)
        except MediaStreamError:
            log.info("camera track ended", extra={"site": self.name})

    def take_frame(self, frame: av.VideoFrame) -> None:
        """A camera frame (or a decoded arriving one): the newest replaces any unprocessed."""
        self._latest = frame
        self.note_arrival((frame.width, frame.height))
        self._frame_ready.set()

    def note_arrival(self, size: tuple[int, int] | None) -> None:
        self._last_frame_at = time.monotonic()
        self.frames_in.tick()
        if size is not None:
            self.camera_size = size
        if self._state is FeedState.OFFLINE:
            self._wake.set()

    # forwarding (a feed pushed by a partner relay) ----------------------------------------------
    def forwarding(self) -> bool:
        """The VP8 viewers get the arriving frames as they are, now."""
        return (self.ingest is not None and self.ingest.forwarding
                and self.state() is FeedState.LIVE)

    def drop_forwarded(self) -> None:
        """The forwarded frames still queued for the VP8 viewers are dropped (the audit
        tripped); they resume at this relay's own next keyframe."""
        encoding = self.encodings.get("vp8")
        for track in list(encoding.viewers) if encoding is not None else []:
            track.drop_queued()

    def needs_transcode(self) -> bool:
        """Some viewer needs another codec than the VP8 that arrives."""
        return any(e.viewers for c, e in self.encodings.items() if c != "vp8")

    def forward(self, data: bytes, timestamp: int, keyframe: bool) -> None:
        """An encoded VP8 frame as it arrived from the partner relay (event loop)."""
        self.note_arrival(self.ingest.size if self.ingest is not None else None)
        encoding = self.encodings.get("vp8")
        if encoding is None or not encoding.viewers or self.state() is not FeedState.LIVE:
            return
        if self._vp8_source != "forward":
            if not keyframe:  # the viewers' decoders need a keyframe to switch over
                if self.ingest is not None:
                    self.ingest.request_keyframe()
                return
            self._vp8_source = "forward"
            self._fwd_offset = None
        # This feed's own clock, keeping the arriving spacing: no jump in the viewers' RTP
        # timestamps when the picture switches between slate, forwarded and local frames.
        now = int((time.monotonic() - self._t0) * 90000)
        if self._fwd_offset is None or abs(timestamp + self._fwd_offset - now) > 45000:
            self._fwd_offset = now - timestamp
        pts = max(timestamp + self._fwd_offset, self._last_pts + 1)
        self._last_pts = pts
        packet = av.Packet(data)
        packet.pts = pts
        packet.time_base = TIME_BASE
        encoding.deliver(packet, keyframe)
        self.frames_forwarded.tick()
        self.bytes_forwarded += len(data)

    # viewers ----------------------------------------------------------------------------------
    def subscribe(self, codec: str = "vp8") -> FeedTrack:
        """A new viewer's track, fed by the shared encoder of ``codec``."""
        encoding = self.encodings.get(codec)
        if encoding is None:
            encoding = self.encodings[codec] = Encoding(codec, self.media, self.name)
        track = FeedTrack(self.media.viewer_queue, lambda: self._keyframe_for(codec))
        track.codec = codec
        encoding.viewers.add(track)
        self.viewers.add(track)
        self._keyframe_for(codec)
        return track

    def _keyframe_for(self, codec: str) -> None:
        """A viewer of ``codec`` needs a keyframe: from the partner while forwarding."""
        if codec == "vp8" and self.ingest is not None and self.forwarding():
            self.ingest.request_keyframe()
        encoding = self.encodings.get(codec)
        if encoding is not None:
            encoding.request_keyframe()

    def unsubscribe(self, track: FeedTrack) -> None:
        self.viewers.discard(track)
        encoding = self.encodings.get(track.codec)
        if encoding is not None:
            encoding.viewers.discard(track)
        track.stop()

    def request_keyframe(self) -> None:
        """Every encoding makes a keyframe soon (throttled per encoding)."""
        for codec in self.encodings:
            self._keyframe_for(codec)

    @property
    def keyframes(self) -> int:
        return sum(e.keyframes for e in self.encodings.values())

    @property
    def keyframe_requests(self) -> int:
        return sum(e.keyframe_requests for e in self.encodings.values())

    @property
    def bytes_out(self) -> int:
        return sum(e.bytes_out for e in self.encodings.values())

    @property
    def bytes_delivered(self) -> int:
        """Bytes handed to viewers' senders."""
        return sum(e.bytes_delivered for e in self.encodings.values())

    # the two stages ---------------------------------------------------------------------------
    def _post(self, image: Image, camera: bool) -> None:
        self._mailbox = (image, camera)
        self._mailbox_ready.set()

    def _prepare(self, frame: av.VideoFrame) -> Image:
        image: Image = np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
        return letterbox(image, self.media.width, self.media.height)

    def _slate_image(self, state: FeedState) -> Image:
        """The slate for ``state``, in I420 (converted once per change, not per frame)."""
        local = self.clock.now()
        opening = self.clock.next_opening() if state is FeedState.CLOSED else None
        bgr = self._slate.get(str(state), local, opening)
        if self._slate_i420 is None or self._slate_i420[0] is not bgr:
            self._slate_i420 = (bgr, to_i420(bgr))
        return self._slate_i420[1]

    async def _process(self) -> None:
        loop = asyncio.get_running_loop()
        slate_interval = 1 / self.media.slate_fps
        while True:
            try:
                state = self.state()
                self._note_state(state)
                if state is FeedState.LIVE:
                    try:
                        await asyncio.wait_for(self._frame_ready.wait(), slate_interval)
                    except TimeoutError:
                        continue
                    self._frame_ready.clear()
                    frame, self._latest = self._latest, None
                    if frame is None:
                        continue
                    image = await loop.run_in_executor(None, self._prepare, frame)
                    private = await self.privacy.process(image)
                    if private is not None:
                        self._post(await loop.run_in_executor(None, to_i420, private),
                                   camera=True)
                else:
                    slate = await loop.run_in_executor(None, self._slate_image, state)
                    self._post(slate, camera=False)
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), slate_interval)
                    except TimeoutError:
                        pass
            except asyncio.CancelledError:
                raise
            except Exception:
                if (held := self._throttle("process")) is not None:
                    log.exception("feed processing failed; continuing",
                                  extra={"site": self.name, "since_last_line": held})
                await asyncio.sleep(0.1)

    async def _encode(self) -> None:
        while True:
            try:
                await self._mailbox_ready.wait()
                self._mailbox_ready.clear()
                item, self._mailbox = self._mailbox, None
                if item is None:
                    continue
                image, camera = item
                if camera and self.state() is not FeedState.LIVE:
                    continue  # the curtain came down while this frame was processed
                active = [e for e in self.encodings.values() if e.viewers]
                if self.forwarding():  # VP8 viewers get the partner's frames as they are
                    active = [e for e in active if e.codec != "vp8"]
                if not active:
                    continue
                pts = int((time.monotonic() - self._t0) * 90000)
                pts = max(pts, self._last_pts + 1)
                self._last_pts = pts
                sends = []
                for e in active:
                    keep = None
                    if e.codec == "vp8" and self.ingest is not None:
                        if self._vp8_source != "encoder":
                            e.force_keyframe()
                        keep = self._encoder_may_deliver
                    sends.append(e.send(image, pts, keep))
                for ms in await asyncio.gather(*sends):
                    self.encode_ms.append(ms)
                    self.encode_hist.observe(ms)
                self.frames_out.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                if (held := self._throttle("encode")) is not None:
                    log.exception("feed encoding failed; continuing",
                                  extra={"site": self.name, "since_last_line": held})
                self.request_keyframe()
                await asyncio.sleep(0.1)

    def _encoder_may_deliver(self) -> bool:
        """The shared VP8 encoder's frame may go to the viewers: nothing is forwarded now."""
        if self.forwarding() and self._vp8_source == "forward":
            return False
        self._vp8_source = "encoder"
        return True

    # figures ----------------------------------------------------------------------------------
    def snapshot_source(self) -> str | None:
        """camera, relay (forwarded), relay-local (processed here) or None."""
        if self.ingest is not None:
            return "relay" if self.ingest.forwarding else "relay-local"
        return "camera" if self.publisher_id is not None else None

    def snapshot(self) -> dict[str, Any]:
        return {
            "state": str(self.state()),
            "camera": self.publisher_id is not None,
            "camera_size": list(self.camera_size) if self.camera_size else None,
            "fps_in": round(self.frames_in.rate(), 1),
            "fps_out": round(self.frames_out.rate(), 1),
            "frames_out": self.frames_out.total,
            "bytes_out": self.bytes_out,
            "keyframes": self.keyframes,
            "encode_ms_p50": percentile(list(self.encode_ms), 0.5),
            "viewers": len(self.viewers),
            "codecs": {c: len(e.viewers) for c, e in self.encodings.items() if e.viewers},
            "privacy": {"mode": str(self.privacy.mode), **self.privacy.stats.snapshot()},
            "source": self.snapshot_source(),
            "fps_forwarded": round(self.frames_forwarded.rate(), 1),
            "bytes_forwarded": self.bytes_forwarded,
            "relay": self.ingest.snapshot() if self.ingest is not None else None,
            "audit_alert": self.audit_alert,
        }
