"""One codec's output of a feed: a shared encoder, its viewers, and when to make keyframes.

A feed has one ``Encoding`` per codec that some viewer needs (VP8 for nearly everyone, H.264
for players that cannot take VP8), each encoding every frame once on its own thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import av

from ..config import MediaConfig
from ..privacy.pixelate import Image
from .encoder import ENCODERS, Encoder, Packet
from .feed_track import FeedTrack


class Encoding:
    def __init__(self, codec: str, media: MediaConfig, site: str) -> None:
        self.codec = codec
        self.media = media
        self.viewers: set[FeedTrack] = set()
        self._encoder: Encoder = ENCODERS[codec](media.width, media.height, media.fps,
                                                 media.bitrate_kbps * 1000)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"encode-{site}-{codec}")
        self._keyframe_wanted = True
        self._last_keyframe_at = float("-inf")
        self.keyframes = 0
        self.keyframe_requests = 0
        self.bytes_out = 0
        self.bytes_delivered = 0

    def request_keyframe(self) -> None:
        """A keyframe soon: served at most every ``keyframe_min_interval_ms``."""
        self._keyframe_wanted = True
        self.keyframe_requests += 1

    def force_keyframe(self) -> None:
        """The next frame is a keyframe, throttled or not: the viewers' last picture came from
        elsewhere (forwarded from a partner relay), so a delta frame would not decode."""
        self._keyframe_wanted = True
        self._last_keyframe_at = float("-inf")

    def _take_keyframe(self) -> bool:
        now = time.monotonic()
        if (self._keyframe_wanted
                and now - self._last_keyframe_at >= self.media.keyframe_min_interval_ms / 1000):
            self._keyframe_wanted = False
            self._last_keyframe_at = now
            return True
        return False

    def _encode_image(self, i420: Image, pts: int, keyframe: bool
                      ) -> tuple[list[Packet], float]:
        started = time.perf_counter()
        frame = av.VideoFrame.from_ndarray(i420, format="yuv420p")
        packets = self._encoder.encode(frame, pts, keyframe)
        return packets, (time.perf_counter() - started) * 1000

    async def send(self, i420: Image, pts: int, keep: Callable[[], bool] | None = None
                   ) -> float:
        """Encode a frame (planar YUV 4:2:0, as ``to_i420`` makes it) once and hand the
        packets to every viewer (unless ``keep`` says no once they are made); returns the
        encode time in ms."""
        loop = asyncio.get_running_loop()
        packets, ms = await loop.run_in_executor(
            self._pool, self._encode_image, i420, pts, self._take_keyframe())
        if keep is not None and not keep():
            self.force_keyframe()  # the viewers miss this frame: the next one stands alone
            return ms
        for packet in packets:
            is_key = bool(packet.is_keyframe)
            self.keyframes += is_key
            self.bytes_out += packet.size
            self.deliver(packet, is_key)
        return ms

    def deliver(self, packet: Packet, keyframe: bool) -> None:
        """Hand one encoded frame (this encoder's, or one forwarded) to every viewer."""
        viewers = list(self.viewers)
        self.bytes_delivered += packet.size * len(viewers)
        for viewer in viewers:
            viewer.put(packet, keyframe)

    def close(self) -> None:
        for v in list(self.viewers):
            v.stop()
        self.viewers.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
