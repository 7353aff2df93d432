"""Video sources for the camera agent: aiortc tracks that produce paced ``av.VideoFrame``s.

``open_source(spec)`` picks the kind from ``SPEC`` (see ``parse_spec``):

* ``test`` — ``SyntheticSource``: the ``TestScene`` street with real faces (1280×720, 30 fps).
* a file path — ``FileSource``: decoded with PyAV, looped forever, paced at the file's own
  timestamps.
* ``rtsp://…`` — ``LiveSource`` over PyAV with ``rtsp_transport=tcp``; reconnects on error
  (every 2 s at most, so a camera that comes back is live again within seconds). An H.264
  camera's packets are passed through as they are (no decode, no encode on the agent: the
  publisher then offers H.264 only) unless the spec asks to scale (``width``/``height``) or
  says ``passthrough=0``; another codec is decoded and encoded again.
* ``/dev/videoN`` — ``LiveSource`` over PyAV's ``v4l2`` input.

Options ride on the spec as a query string, e.g. ``test?width=640&height=360&fps=15``,
``clip.mp4?width=1280&height=720``: if every key after the last ``?`` is a known option
(``width``, ``height``, ``fps``, ``marker``, ``seed``, ``label``, ``passthrough``) it is
stripped, otherwise the ``?`` belongs to the source (an RTSP URL with its own query, say).
Keyword arguments of ``open_source`` override the spec.

Every source decodes/renders off the event loop (a single worker thread per source; live
sources use a reader thread that keeps only the newest frame, so a slow consumer never
builds latency; passed-through H.264 keeps every packet in order, up to a bound, then drops
to the next keyframe). Frames are ``yuv420p`` (what the encoder wants, converted in the worker)
with ``time_base = 1/90000`` and strictly increasing ``pts`` from the capture clock.

A ``VideoSource`` lives for the whole process; ``VideoSource.view()`` gives a thin track per
peer connection, because aiortc stops a sender's track when the connection closes and the
source must survive reconnects.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fractions
import logging
import time
import urllib.parse
from collections.abc import Generator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import av
import cv2
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from .scene import MARKER_MODES, Image, MarkerMode, TestScene

log = logging.getLogger("window.camera")

TIME_BASE = fractions.Fraction(1, 90000)
CLOCK_RATE = 90000
OPTION_KEYS = frozenset({"width", "height", "fps", "marker", "seed", "label", "passthrough"})


class SourceError(Exception):
    """The source cannot be opened at all (bad spec, missing file): not worth retrying."""


@dataclass(frozen=True)
class SourceSpec:
    """A parsed ``--source`` value."""

    kind: str  # "test", "file", "rtsp" or "device"
    target: str  # file path, URL or device; "" for test
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    marker: MarkerMode | None = None
    seed: int = 0
    label: str = ""
    passthrough: bool | None = None  # RTSP: None = yes when nothing is to be scaled


def parse_spec(spec: str) -> SourceSpec:
    """Parse ``SPEC`` (see the module docstring); raises ``SourceError`` on bad options."""
    spec = spec.strip() or "test"
    base, options = spec, {}
    if "?" in spec:
        head, _, query = spec.rpartition("?")
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        if pairs and all(k in OPTION_KEYS for k, _ in pairs):
            base, options = head, dict(pairs)
    try:
        width = int(options["width"]) if "width" in options else None
        height = int(options["height"]) if "height" in options else None
        fps = float(options["fps"]) if "fps" in options else None
        seed = int(options.get("seed", "0"))
    except ValueError as exc:
        raise SourceError(f"bad source option: {exc}") from None
    marker = options.get("marker") or None
    if marker is not None and marker not in MARKER_MODES:
        raise SourceError(f"marker must be one of {', '.join(MARKER_MODES)}")
    if (width is not None and width <= 0) or (height is not None and height <= 0):
        raise SourceError("width and height must be positive")
    if fps is not None and not 0 < fps <= 120:
        raise SourceError("fps must be in (0, 120]")
    passthrough = None
    if "passthrough" in options:
        if options["passthrough"] not in ("0", "1"):
            raise SourceError("passthrough must be 0 or 1")
        passthrough = options["passthrough"] == "1"
    if base == "test":
        kind, target = "test", ""
    elif base.startswith(("rtsp://", "rtsps://")):
        kind, target = "rtsp", base
    elif base.startswith("/dev/video"):
        kind, target = "device", base
    else:
        kind, target = "file", base
    return SourceSpec(kind, target, width, height, fps, cast("MarkerMode | None", marker),
                      seed, options.get("label", ""), passthrough)


def open_source(
    spec: str = "test",
    *,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
    marker: MarkerMode | None = None,
    label: str | None = None,
) -> VideoSource:
    """The source for ``spec``; keyword arguments override options in the spec."""
    s = parse_spec(spec)
    s = replace(
        s,
        width=width if width is not None else s.width,
        height=height if height is not None else s.height,
        fps=fps if fps is not None else s.fps,
        marker=marker if marker is not None else s.marker,
        label=label if label is not None else s.label,
    )
    if s.kind == "test":
        return SyntheticSource(s.width or 1280, s.height or 720, s.fps or 30.0, seed=s.seed,
                               marker=s.marker, label=s.label)
    if s.kind == "file":
        probe_file(s.target)
        return FileSource(s.target, width=s.width, height=s.height, fps=s.fps)
    if s.kind == "rtsp":
        passthrough = s.passthrough
        if passthrough is None:  # an H.264 camera's packets as they are, unless scaled here
            passthrough = s.width is None and s.height is None
        return LiveSource.rtsp(s.target, width=s.width, height=s.height,
                               passthrough=passthrough)
    return LiveSource.device(s.target, width=s.width, height=s.height, fps=s.fps)


def probe_file(path: str) -> None:
    """Raise ``SourceError`` unless ``path`` is a file with a video stream (blocking)."""
    if not Path(path).is_file():
        raise SourceError(f"no such video file: {path}")
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise SourceError(f"no video stream in {path}")
    except av.FFmpegError as exc:
        raise SourceError(f"cannot open {path}: {exc}") from None


def bgr_to_frame(image: Image) -> av.VideoFrame:
    """A ``yuv420p`` frame from a BGR image with even sides (≈ 0.7 ms at 720p)."""
    i420 = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), dtype=np.uint8)
    return av.VideoFrame.from_ndarray(i420, format="yuv420p")


def to_yuv420p(frame: av.VideoFrame, width: int | None, height: int | None) -> av.VideoFrame:
    """``frame`` scaled to ``width``×``height`` (if given) and converted to ``yuv420p``."""
    w = width or frame.width
    h = height or frame.height
    if frame.format.name == "yuv420p" and (w, h) == (frame.width, frame.height):
        return frame
    return frame.reformat(width=w, height=h, format="yuv420p")


def _slate(width: int, height: int, text: str) -> av.VideoFrame:
    img = np.full((height, width, 3), 40, np.uint8)
    cv2.putText(img, text, (width // 20, height // 2), cv2.FONT_HERSHEY_SIMPLEX,
                max(0.5, height / 720), (200, 200, 200), 2, cv2.LINE_AA)
    return bgr_to_frame(img)


class VideoSource(MediaStreamTrack):  # type: ignore[misc]
    """Base class: a video track whose frames carry ``pts`` on a 90 kHz capture clock."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._t0 = time.monotonic()
        self._last_pts = -1
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="camera-source"
        )
        self._closed = False

    def _stamp(self, frame: av.VideoFrame, at: float | None = None) -> av.VideoFrame:
        """Set ``pts``/``time_base`` from the monotonic time ``at`` (default: now)."""
        pts = round(((time.monotonic() if at is None else at) - self._t0) * CLOCK_RATE)
        pts = max(pts, self._last_pts + 1)
        self._last_pts = pts
        frame.pts = pts
        frame.time_base = TIME_BASE
        return frame

    async def _in_worker(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def recv(self) -> av.VideoFrame | av.Packet[Any]:
        raise NotImplementedError

    # The codec the publisher must negotiate (an encoded passthrough), or None: any.
    codec: str | None = None

    def view(self) -> MediaStreamTrack:
        """A track for one peer connection; stopping it leaves the source running."""
        return _SourceView(self)

    def stop(self) -> None:
        if not self._closed:
            self._closed = True
            self._executor.shutdown(wait=False, cancel_futures=True)
        super().stop()


class _SourceView(MediaStreamTrack):  # type: ignore[misc]
    kind = "video"

    def __init__(self, source: VideoSource) -> None:
        super().__init__()
        self._source = source
        self._keyed = False

    async def recv(self) -> av.VideoFrame | av.Packet[Any]:
        while True:
            if self.readyState != "live" or self._source.readyState != "live":
                raise MediaStreamError
            data = await self._source.recv()
            if isinstance(data, av.Packet):
                # A new peer connection starts at a keyframe: before one, nothing decodes.
                self._keyed = self._keyed or data.is_keyframe
                if not self._keyed:
                    continue
            else:
                self._keyed = False  # a slate: the next packets need a keyframe again
            return data


class _Pacer:
    """Sleeps until the next frame slot; after a stall (nobody pulling) it restarts at now
    instead of bursting to catch up."""

    def __init__(self, fps: float) -> None:
        self.interval = 1.0 / fps
        self._next: float | None = None

    async def wait(self) -> None:
        now = time.monotonic()
        if self._next is None or now - self._next > self.interval:
            self._next = now
        delay = self._next - now
        if delay > 0:
            await asyncio.sleep(delay)
        self._next += self.interval


class SyntheticSource(VideoSource):
    """``TestScene`` frames at ``fps``, rendered in the source's worker thread."""

    def __init__(
        self,
        width: int = 1280,
        height: int = 720,
        fps: float = 30.0,
        *,
        seed: int = 0,
        marker: MarkerMode | None = None,
        label: str = "",
    ) -> None:
        super().__init__()
        if width % 2 or height % 2:
            raise SourceError("width and height must be even")
        self.scene = TestScene(width, height, fps, seed, marker=marker, label=label)
        self._pacer = _Pacer(fps)

    def _render(self, stamp: float) -> av.VideoFrame:
        return bgr_to_frame(self.scene.render(stamp))

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        await self._pacer.wait()
        at = time.monotonic()
        frame = await self._in_worker(self._render, time.time())
        return self._stamp(frame, at)


class FileSource(VideoSource):
    """A video file decoded with PyAV, looped forever, paced at its own timestamps."""

    def __init__(
        self,
        path: str,
        *,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
    ) -> None:
        super().__init__()
        self.path = path
        self._width, self._height, self._fps = width, height, fps
        self._frames: Generator[tuple[av.VideoFrame, float], None, None] | None = None
        self._start: float | None = None  # monotonic time of media time 0
        self.loops = 0

    def _decode(self) -> Generator[tuple[av.VideoFrame, float], None, None]:
        """Yields (frame, media seconds) forever, looping; runs in the worker thread."""
        offset = 0.0
        while True:
            count, last, step = 0, 0.0, 1.0 / (self._fps or 30.0)
            with av.open(self.path) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                if self._fps is None and stream.average_rate:
                    step = 1.0 / float(stream.average_rate)
                first: float | None = None
                for frame in container.decode(stream):
                    t = frame.time
                    if t is None:
                        t = count * step
                    if first is None:
                        first = t
                    last = max(last, t - first) if count else 0.0
                    count += 1
                    yield to_yuv420p(frame, self._width, self._height), offset + last
            if count == 0:
                raise SourceError(f"no video frames in {self.path}")
            offset += last + step
            self.loops += 1

    def _next(self) -> tuple[av.VideoFrame, float]:
        if self._frames is None:
            self._frames = self._decode()
        return next(self._frames)

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        while True:
            try:
                frame, media_t = await self._in_worker(self._next)
                break
            except (OSError, av.FFmpegError, SourceError, StopIteration) as exc:
                # A damaged or replaced file: start it over, gently.
                log.warning("source %s: %s; restarting the file", self.path, exc)
                self._frames = None
                self._start = None
                await asyncio.sleep(1.0)
        now = time.monotonic()
        if self._start is None or now - (self._start + media_t) > 0.5:
            self._start = now - media_t  # first frame, or resumed after a stall
        due = self._start + media_t
        if due > now:
            await asyncio.sleep(due - now)
        return self._stamp(frame, due)

    def stop(self) -> None:
        frames, self._frames = self._frames, None
        if frames is not None:
            # Close the generator (and its container) in the worker, where it runs.
            try:
                self._executor.submit(frames.close)
            except RuntimeError:
                pass
        super().stop()


# LiveSource (RTSP, V4L2) lives in its own module; imported last (it builds on the above).
from .live import LiveSource  # noqa: E402

__all__ = ["LiveSource", "SourceError", "SourceSpec", "VideoSource", "open_source",
           "parse_spec"]
