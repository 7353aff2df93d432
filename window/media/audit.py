"""Trust, but verify: look for faces in a feed that a partner relay says it has blurred.

``Audit.offer`` is handed decoded frames of an arriving feed (``window.media.forward``) and
takes a few a second: each is scaled to ``audit.width`` pixels and searched by the face
layer's detector (CenterFace) on a worker thread of its own, never on the event loop, and
never more than one frame at a time (a busy detector skips frames). A face scoring at least
``audit.threshold`` in ``audit.hits`` samples in a row (pixelated faces of a correctly
blurred feed score far below it) trips the audit: ``on_trip`` is called on the event loop
with what was found, and the feed switches to its own privacy pipeline.

Cadence: ``audit.fps`` samples a second while nothing changes; ``audit.burst_fps`` for
``audit.burst_s`` seconds from the first arriving frame (a (re)connection: each session
has its own ``Audit``) and after ``changed`` (the ingest calls it for a new picture size or
a keyframe it did not ask for: the partner's picture changed), and for the sample that
confirms a hit. So
a partner that sends faces from the start is caught within a few tenths of a second, one
that starts mid-stream within about one steady interval, at a steady cost of ``fps``.

Each ``Audit`` scales with a ``VideoReformatter`` of its own: a decoded frame may be
converted by the feed's processing thread at the same time (local mode, H.264 viewers),
and PyAV's ``VideoFrame.reformat`` keeps one scaler per frame, which two threads must not
share (its ``sws_scale`` runs without the GIL).

The detector is loaded once per process, in the background, when the first partner feed
arrives (``warm``): until it is ready the arriving feed is processed locally (fail closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from ..config import AuditConfig, PrivacyConfig
from ..privacy.faces import Boxes, CenterFace

log = logging.getLogger("window.audit")

_lock = threading.Lock()
_detectors: dict[tuple[str, float], CenterFace] = {}
_loading: dict[tuple[str, float], Future[CenterFace]] = {}
_loader = ThreadPoolExecutor(1, thread_name_prefix="audit-load")


def _load(key: tuple[str, float]) -> CenterFace:
    det = CenterFace(key[0], threads=1, threshold=key[1])
    det.detect(np.zeros((360, 640, 3), np.uint8))  # the first run allocates
    with _lock:
        _detectors[key] = det
    log.info("audit detector ready")
    return det


def warm(privacy: PrivacyConfig, cfg: AuditConfig) -> None:
    """Start loading the audit's detector in the background (idempotent)."""
    key = (privacy.face_model, cfg.threshold)
    with _lock:
        if key not in _detectors and key not in _loading:
            _loading[key] = _loader.submit(_load, key)


def detector(privacy: PrivacyConfig, cfg: AuditConfig) -> CenterFace | None:
    """The loaded detector, or None while it is loading (or failed to load)."""
    key = (privacy.face_model, cfg.threshold)
    with _lock:
        return _detectors.get(key)


class Audit:
    """Samples one arriving feed for faces; see the module doc."""

    def __init__(self, site: str, privacy: PrivacyConfig, cfg: AuditConfig,
                 on_trip: Callable[[dict[str, Any]], None]) -> None:
        self.site = site
        self.privacy = privacy
        self.cfg = cfg
        self.on_trip = on_trip
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"audit-{site}")
        self._busy = False
        self._last = float("-inf")
        self._hits = 0
        self._burst_until: float | None = None  # set by the first frame offered
        self._scaler = VideoReformatter()  # this audit's own (see the module doc)
        self._loop = asyncio.get_running_loop()
        self.samples = 0
        self.faces_seen = 0
        self.last_sample_at: float | None = None
        self.last_ms: float | None = None
        self.tripped = False
        self.closed = False
        warm(privacy, cfg)

    def ready(self) -> bool:
        return detector(self.privacy, self.cfg) is not None

    def changed(self) -> None:
        """The arriving picture changed (a keyframe, a new size): sample fast for a while."""
        self._burst_until = time.monotonic() + self.cfg.burst_s

    def interval(self, now: float) -> float:
        """Seconds between samples now (see the module doc)."""
        if self._burst_until is None:
            self._burst_until = now + self.cfg.burst_s
        fast = self._hits > 0 or now < self._burst_until
        return 1 / (self.cfg.burst_fps if fast else self.cfg.fps)

    def due(self, now: float) -> bool:
        """Whether a frame offered now would be searched (also asked by the ingest thread,
        which then hands the event loop only such frames)."""
        return not (self.tripped or self.closed or self._busy
                    or now - self._last < self.interval(now))

    def offer(self, owner: Any, frame: av.VideoFrame) -> None:
        """A decoded arriving frame (event loop); sampled at the current cadence."""
        now = time.monotonic()
        if not self.due(now):
            return
        det = detector(self.privacy, self.cfg)
        if det is None:
            return
        self._last = now
        self._busy = True
        fut = self._pool.submit(self._search, det, frame)
        fut.add_done_callback(self._searched)

    def _search(self, det: CenterFace, frame: av.VideoFrame) -> tuple[Boxes, float, int, int]:
        started = time.perf_counter()
        w = min(self.cfg.width, frame.width)
        h = max(2, round(frame.height * w / frame.width) // 2 * 2)
        small = self._scaler.reformat(frame, width=w, height=h, format="bgr24",
                                      interpolation=Interpolation.AREA)
        image = np.asarray(small.to_ndarray(), np.uint8)
        boxes = det.detect(image)
        boxes = boxes[boxes[:, 4] >= self.cfg.threshold] if len(boxes) else boxes
        return boxes, (time.perf_counter() - started) * 1000, frame.width, w

    def _searched(self, fut: Future[tuple[Boxes, float, int, int]]) -> None:
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._after, fut)

    def _after(self, fut: Future[tuple[Boxes, float, int, int]]) -> None:
        self._busy = False
        if fut.cancelled() or self.tripped or self.closed:
            return
        if fut.exception() is not None:
            log.warning("audit search failed", extra={"site": self.site,
                                                      "error": repr(fut.exception())[:200]})
            return
        boxes, ms, full_w, w = fut.result()
        self.samples += 1
        self.last_sample_at = time.time()
        self.last_ms = round(ms, 1)
        if not len(boxes):
            self._hits = 0
            return
        self.faces_seen += len(boxes)
        self._hits += 1
        if self._hits < self.cfg.hits:
            return
        self.tripped = True
        k = full_w / w
        self.on_trip({
            "faces": len(boxes),
            "best_score": round(float(boxes[:, 4].max()), 3),
            "largest_px": round(float(max(boxes[:, 2] - boxes[:, 0]) * k), 1),
            "samples": self.samples,
        })

    def close(self) -> None:
        self.closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)

    def snapshot(self) -> dict[str, Any]:
        return {
            "ready": self.ready(),
            "samples": self.samples,
            "faces_seen": self.faces_seen,
            "last_sample_at": self.last_sample_at,
            "last_ms": self.last_ms,
        }
