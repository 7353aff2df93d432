"""Encoders shared by all viewers of a feed: VP8 (libvpx) and H.264 (libx264, baseline).

aiortc's senders only packetize when a track hands them ``av.Packet``s, so the cost of a viewer
is a few memcpy's instead of a whole encode. Keyframes are forced here, not in the senders.
Runs on a worker thread; libvpx and libx264 release the GIL.
"""

from __future__ import annotations

import fractions
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import av
from av.video.frame import PictureType

TIME_BASE = fractions.Fraction(1, 90000)

# An encoded frame, as aiortc's senders take it.
if TYPE_CHECKING:
    Packet: TypeAlias = av.Packet[Any]
else:
    Packet = av.Packet


class Encoder(Protocol):
    codec_name: str

    def encode(self, frame: av.VideoFrame, pts: int, keyframe: bool) -> list[Packet]: ...


def _encode(codec: Any, frame: av.VideoFrame, pts: int, keyframe: bool) -> list[Packet]:
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    frame.pts = pts
    frame.time_base = TIME_BASE
    frame.pict_type = PictureType.I if keyframe else PictureType.NONE
    packets: list[Packet] = list(codec.encode(frame))
    for p in packets:
        p.time_base = TIME_BASE
    return packets


def _context(name: str, width: int, height: int, fps: int, bitrate: int) -> Any:
    """An encoder context with what every codec here shares."""
    codec: Any = av.CodecContext.create(name, "w")
    codec.width = width
    codec.height = height
    codec.pix_fmt = "yuv420p"
    codec.time_base = TIME_BASE
    codec.framerate = fractions.Fraction(fps, 1)
    codec.bit_rate = bitrate
    codec.gop_size = 3000  # keyframes when asked for, plus a safety net every ~100 s
    return codec


class Vp8Encoder:
    codec_name = "vp8"

    def __init__(self, width: int, height: int, fps: int, bitrate: int) -> None:
        codec = _context("libvpx", width, height, fps, bitrate)
        codec.qmin = 2
        codec.qmax = 56
        codec.options = {
            "bufsize": str(bitrate),
            "cpu-used": "-6",
            "deadline": "realtime",
            "lag-in-frames": "0",
            "minrate": str(bitrate),
            "maxrate": str(bitrate),
            "noise-sensitivity": "0",
            "overshoot-pct": "15",
            "partitions": "0",
            "static-thresh": "1",
            "undershoot-pct": "100",
            "error-resilient": "1",
        }
        # One thread: on a busy 2-core machine libvpx's worker threads wait on each other and
        # an encode took 15-200 ms instead of 9 (benchmarks/fanout.py). Each feed and codec has
        # a thread of its own anyway.
        codec.thread_count = 1
        self.codec = codec

    def encode(self, frame: av.VideoFrame, pts: int, keyframe: bool) -> list[Packet]:
        """Encode one frame; ``pts`` is in 1/90000 s. Returns the packets (usually one)."""
        return _encode(self.codec, frame, pts, keyframe)


class H264Encoder:
    """Constrained baseline, Annex-B output, for viewers that cannot take VP8."""

    codec_name = "h264"

    def __init__(self, width: int, height: int, fps: int, bitrate: int) -> None:
        codec = _context("libx264", width, height, fps, bitrate)
        codec.profile = "Baseline"
        codec.options = {
            "preset": "veryfast",
            "tune": "zerolatency",
            "level": "31" if width * height <= 1280 * 720 else "41",
            "bufsize": str(bitrate),
            "maxrate": str(bitrate),
        }
        codec.thread_count = 1
        self.codec = codec

    def encode(self, frame: av.VideoFrame, pts: int, keyframe: bool) -> list[Packet]:
        return _encode(self.codec, frame, pts, keyframe)


ENCODERS: dict[str, type[Vp8Encoder] | type[H264Encoder]] = {
    "vp8": Vp8Encoder,
    "h264": H264Encoder,
}
