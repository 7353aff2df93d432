"""The privacy stage of one feed: runs its filter on a worker thread under a watchdog.

Fail closed: when the filter raises, misses the per-frame deadline, is still busy with an
earlier frame (backlog) or is not warmed up yet, the frame is pixelated whole instead. The
caller gets either a frame that passed the filter, a whole-frame pixelation, or ``None``
(curtain: send no camera pixels).

A gap of more than ``RESTART_GAP_S`` between two frames (the camera reconnected, or stalled)
makes the filter start over (``restart``: the first-sweep rule), as the picture after the gap
may be another one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from ..config import PrivacyConfig, PrivacyMode, SiteConfig
from ..errors import Forbidden
from ..logs import Throttle
from ..media.rate import MS_BUCKETS, Histogram
from .factory import make_filter
from .filter import FilterResult, PrivacyFilter
from .pixelate import Image, pixelate_whole

log = logging.getLogger("window.privacy")

RESTART_GAP_S = 1.0


def _window() -> deque[float]:
    return deque(maxlen=300)  # ≈ 10 s at 30 fps


@dataclass
class PrivacyStats:
    frames: int = 0
    whole_by_reason: Counter[str] = field(default_factory=Counter)
    latency_ms: deque[float] = field(default_factory=_window)
    faces: int = 0  # in the last filtered frame (faces being held)
    regions: int = 0  # moving regions in the last filtered frame
    blurred_share: float = 1.0
    filtered: int = 0  # frames that went through the filter (not the stage's fallback)
    faces_recent: deque[float] = field(default_factory=_window)
    regions_recent: deque[float] = field(default_factory=_window)
    share_recent: deque[float] = field(default_factory=_window)
    latency_hist: Histogram = field(default_factory=lambda: Histogram(MS_BUCKETS))

    def record(self, result: FilterResult, ms: float) -> None:
        self.filtered += 1
        self.latency_ms.append(ms)
        self.latency_hist.observe(ms)
        self.faces, self.regions = result.faces, result.regions
        self.blurred_share = result.blurred_share
        self.faces_recent.append(result.faces)
        self.regions_recent.append(result.regions)
        self.share_recent.append(result.blurred_share)
        if result.whole:
            self.whole_by_reason[result.whole_reason or "filter"] += 1

    def snapshot(self) -> dict[str, object]:
        lat = sorted(self.latency_ms)

        def pct(p: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))], 2) if lat else None

        def mean(xs: deque[float]) -> float | None:
            return round(sum(xs) / len(xs), 3) if xs else None

        return {
            "frames": self.frames,
            "filtered": self.filtered,
            "whole_frame_blurs": dict(self.whole_by_reason),
            "latency_ms_p50": pct(0.5),
            "latency_ms_p95": pct(0.95),
            "faces": self.faces,
            "regions": self.regions,
            "blurred_share": round(self.blurred_share, 3),
            # Means over the last ≈ 10 s of filtered frames.
            "faces_per_frame": mean(self.faces_recent),
            "regions_per_frame": mean(self.regions_recent),
            "blurred_share_mean": mean(self.share_recent),
        }


class PrivacyStage:
    def __init__(self, site_name: str, cfg: PrivacyConfig, site: SiteConfig,
                 *, allow_off: bool = False) -> None:
        self.site_name = site_name
        self.cfg = cfg
        self.site = site
        self.allow_off = allow_off
        self.stats = PrivacyStats()
        self._throttle = Throttle()
        self._worker = ThreadPoolExecutor(1, thread_name_prefix=f"privacy-{site_name}")
        self._fallback = ThreadPoolExecutor(1, thread_name_prefix=f"blur-{site_name}")
        self._busy: Future[FilterResult] | None = None
        self._mode = PrivacyMode.FULL
        self._filter: PrivacyFilter | None = None
        self._last_frame = 0.0  # time.monotonic() of the last frame
        self.set_mode(cfg.mode)

    @property
    def mode(self) -> PrivacyMode:
        return self._mode

    def set_mode(self, mode: PrivacyMode) -> None:
        """Switch filters; refuses ``off`` unless the server was started to allow it."""
        if mode is PrivacyMode.OFF and not self.allow_off:
            raise Forbidden("privacy mode 'off' needs `window serve --dev-allow-privacy-off`")
        old = self._filter
        self._filter = make_filter(mode, self.cfg, self.site)
        self._mode = mode
        if old is not None:
            self._worker.submit(old.close)
        log.info("privacy mode", extra={"site": self.site_name, "mode": str(mode)})

    @property
    def curtain(self) -> bool:
        return self._filter is None

    def ready(self) -> bool:
        """The filter is loaded (or none is needed): frames are filtered, not blurred whole."""
        return self._filter is None or self._filter.ready()

    def _whole(self, image: Image, reason: str) -> Image:
        self.stats.whole_by_reason[reason] += 1
        return pixelate_whole(image, self.cfg.full_block_px)

    async def process(self, image: Image) -> Image | None:
        """The frame as it may leave the relay, or ``None`` for no camera pixels."""
        flt = self._filter
        if flt is None:
            return None
        self.stats.frames += 1
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        gap = self._last_frame and now - self._last_frame > RESTART_GAP_S
        self._last_frame = now
        restart = getattr(flt, "restart", None)
        if gap and restart is not None:
            # On the filter's own thread, before this frame: the picture after a gap may be
            # another one.
            self._worker.submit(restart, "gap")
        if self._busy is not None and not self._busy.done():
            return await loop.run_in_executor(self._fallback, self._whole, image, "backlog")
        if not flt.ready():
            return await loop.run_in_executor(self._fallback, self._whole, image, "warming")
        # The filter may modify its input in place: keep our own copy for the fallback.
        source = image.copy() if flt.name != "full" else image
        started = time.perf_counter()
        fut = self._worker.submit(flt.apply, image)
        self._busy = fut
        try:
            result = await asyncio.wait_for(asyncio.wrap_future(fut), self.cfg.deadline_ms / 1000)
        except TimeoutError:
            if (held := self._throttle("deadline")) is not None:
                log.warning("privacy deadline missed: frame pixelated whole",
                            extra={"site": self.site_name, "since_last_line": held})
            return await loop.run_in_executor(self._fallback, self._whole, source, "deadline")
        except Exception:
            if (held := self._throttle("error")) is not None:
                log.exception("privacy filter failed: frame pixelated whole",
                              extra={"site": self.site_name, "since_last_line": held})
            return await loop.run_in_executor(self._fallback, self._whole, source, "error")
        if flt is not self._filter:  # the mode changed while this frame was in the filter
            return await self.process(source)
        self.stats.record(result, (time.perf_counter() - started) * 1000)
        return result.image

    def close(self) -> None:
        if self._filter is not None:
            self._worker.submit(self._filter.close)
        self._worker.shutdown(wait=False, cancel_futures=True)
        self._fallback.shutdown(wait=False, cancel_futures=True)
